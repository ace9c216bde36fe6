# Chapter 5 — heap: kmalloc(), kfree(), kcalloc(), krealloc() and
# kmalloc_aligned() on pages mapped on demand, with misuse caught and
# reported.
#
# See 01-boot.mk for what a manifest is. The allocator's core
# (src/mm/heap.c) is pure bookkeeping over a range of virtual addresses;
# src/mm/kmalloc.c feeds it pages from chapter 4's frame allocator and page
# tables. The core is also built for the host and tested there under
# sanitizers (tests/host/test_heap.c). heap_bench.c is `make bench-heap`'s
# workload, run only when named (test=heap-bench).
CHAPTERS += 5
ch5.slug := heap
ch5.title := The heap: kmalloc, kfree, and catching their misuse
ch5.srcs := \
	src/mm/heap.c \
	src/mm/kmalloc.c \
	src/mm/heap_test.c \
	src/mm/heap_bench.c
ch5.tests := tests/ch05_heap.py tests/host/test_heap.c
ch5.files := tools/bench_heap.py
ch5.blog := blog/05-heap.md
ch5.lab := labs/lab5
