# Chapter 4 — paging: physical frames, 4-level page tables, and the kernel
# remapped with W^X, a direct map of RAM and guard pages.
#
# See 01-boot.mk for what a manifest is. The *_test.c files hold the
# in-kernel tests (KTEST), fault_test.c the faults raised on purpose; the
# tests/host/ files are host unit tests of the frame allocator and the
# page-table code, over fake physical memory (mm_host.h, mm_host.c).
CHAPTERS += 4
ch4.slug := paging
ch4.title := Paging: frames, page tables, W^X and guard pages
ch4.srcs := \
	src/mm/pmm.c \
	src/mm/vm.c \
	src/mm/layout.c \
	src/mm/pmm_test.c \
	src/mm/vm_test.c \
	src/mm/fault_test.c
ch4.tests := \
	tests/ch04_paging.py \
	tests/host/test_pmm.c \
	tests/host/test_vm.c \
	tests/host/mm_host.h \
	tests/host/mm_host.c
ch4.blog := blog/04-paging.md
ch4.lab := labs/lab4
