#!/usr/bin/env python3
"""Make the site image the unikernel serves (include/fern/site.h has the
format): the blog posts, the labs and the guides, rendered from Markdown
to HTML by cmark-gfm, with their links between each other rewritten to
the served paths, and an index page.

    python3 tools/site.py --out build/site.img [--list]

Served paths: /index.html, /blog/NN-slug.html, /labs/labN.html,
/docs/NAME.html, /style.css. A Markdown file that cmark-gfm cannot render
stops the build with its name; nothing is half-written (the image is
written to a temporary file and renamed).
"""

import argparse
import glob
import html
import os
import re
import shutil
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAGIC, VERSION = b"FERNSITE", 1

STYLE = b"""body{max-width:46em;margin:2em auto;padding:0 1em;font:16px/1.5 sans-serif;color:#222}
pre{background:#f4f4f4;padding:.6em;overflow-x:auto;font-size:14px}
code{font-size:90%}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}
nav{margin-bottom:2em}a{color:#0645ad}
"""


def front_matter(text):
    """(fields, body) of a post: the `---` block at the top, if any."""
    fields = {}
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end > 0:
            for line in text[4:end].splitlines():
                k, _, v = line.partition(":")
                fields[k.strip()] = v.strip().strip('"')
            text = text[end + 5:]
    return fields, text


def served_path(src):
    """The URL path of the repository file `src`, or None if not served."""
    m = re.match(r"blog/(\d\d-[\w-]+)\.md$", src)
    if m:
        return "/blog/%s.html" % m.group(1)
    m = re.match(r"labs/(lab\d+)/README\.md$", src)
    if m:
        return "/labs/%s.html" % m.group(1)
    m = re.match(r"docs/([\w-]+)\.md$", src)
    if m:
        return "/docs/%s.html" % m.group(1)
    if src == "README.md":
        return "/readme.html"
    return None


def rewrite_links(body, src):
    """Links between the Markdown files become links between the served
    pages; other relative links point at the repository's file names,
    which the site does not have, and are left as text."""
    here = os.path.dirname(src)

    def fix(m):
        target = html.unescape(m.group(1))
        if re.match(r"[a-z]+:|#|/", target):
            return m.group(0)
        path, _, anchor = target.partition("#")
        full = os.path.normpath(os.path.join(here, path)) if path else src
        served = served_path(full)
        if not served:
            return 'title="%s in the repository"' % html.escape(full)
        return 'href="%s%s"' % (served, "#" + anchor if anchor else "")
    return re.sub(r'href="([^"]*)"', fix, body)


def render(src, cmark):
    with open(os.path.join(ROOT, src), encoding="utf-8") as f:
        fields, text = front_matter(f.read())
    p = subprocess.run([cmark, "-e", "table", "-e", "autolink", "-e", "strikethrough",
                        "--github-pre-lang"], input=text, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise SystemExit("site: error: cmark-gfm could not render %s: %s"
                         % (src, p.stderr.strip()))
    title = fields.get("title") or next((l[2:] for l in text.splitlines()
                                        if l.startswith("# ")), src)
    body = rewrite_links(p.stdout, src)
    page = ('<!doctype html><html lang="en"><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width">'
            '<title>%s</title><link rel="stylesheet" href="/style.css">'
            '<nav><a href="/index.html">fern</a></nav>\n%s</html>\n'
            % (html.escape(title), body))
    return title, fields.get("summary", ""), page.encode("utf-8")


def index_page(posts, labs, docs):
    items = "".join('<li><a href="%s">%s</a><br>%s</li>\n'
                    % (p, html.escape(t), html.escape(s)) for p, t, s in posts)
    lab_items = "".join('<li><a href="%s">%s</a></li>\n' % (p, html.escape(t))
                        for p, t, _ in labs)
    doc_items = "".join('<li><a href="%s">%s</a></li>\n' % (p, html.escape(t))
                        for p, t, _ in docs)
    return ('<!doctype html><html lang="en"><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width"><title>fern</title>'
            '<link rel="stylesheet" href="/style.css"><h1>fern</h1>'
            '<p>A teaching kernel, grown chapter by chapter into a unikernel. This page is '
            'served by that unikernel.</p><h2>The posts</h2><ol>%s</ol><h2>The labs</h2>'
            '<ul>%s</ul><h2>Guides</h2><ul>%s</ul></html>\n'
            % (items, lab_items, doc_items)).encode("utf-8")


def image(files):
    """The site image of [(path, type, bytes)]."""
    head = MAGIC + struct.pack("<II", VERSION, len(files))
    at = len(head) + 24 * len(files)
    entries, blobs = b"", b""
    for path, ctype, data in files:
        parts = []
        for blob in (path.encode(), ctype.encode(), data):
            parts.append((at + len(blobs), len(blob)))
            blobs += blob
        entries += struct.pack("<6I", *(v for part in parts for v in part))
    return head + entries + blobs


def main():
    ap = argparse.ArgumentParser(description="make the site image (build/site.img)")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "site.img"))
    ap.add_argument("--list", action="store_true", help="print each served path and size")
    args = ap.parse_args()
    cmark = shutil.which("cmark-gfm")
    if not cmark:
        raise SystemExit("site: error: cmark-gfm not found (Debian: apt install cmark-gfm; "
                         "make doctor says what else is missing)")
    html_type = "text/html; charset=utf-8"
    files, posts, labs, docs = [], [], [], []
    sources = (sorted(glob.glob("blog/[0-9][0-9]-*.md", root_dir=ROOT)) +
               sorted(glob.glob("labs/lab*/README.md", root_dir=ROOT),
                      key=lambda s: int(re.search(r"\d+", s).group())) +
               sorted(glob.glob("docs/*.md", root_dir=ROOT)) + ["README.md"])
    for src in sources:
        title, summary, page = render(src, cmark)
        path = served_path(src)
        files.append((path, html_type, page))
        (posts if src.startswith("blog/") else labs if src.startswith("labs/")
         else docs).append((path, title, summary))
    files.append(("/index.html", html_type, index_page(posts, labs, docs)))
    files.append(("/style.css", "text/css", STYLE))
    data = image(files)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, args.out)
    if args.list:
        for path, _, blob in files:
            print("%7d  %s" % (len(blob), path))
    print("site: %d files, %d KiB in %s" % (len(files), (len(data) + 1023) // 1024,
                                             os.path.relpath(args.out, os.getcwd())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
