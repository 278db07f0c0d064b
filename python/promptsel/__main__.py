"""`python -m promptsel`: where the installed library and header are, for C and C++
builds against this copy (like `pkg-config` or `python -m pybind11 --includes`).

    cc trainer.c $(python -m promptsel --cflags) $(python -m promptsel --libs)
    PKG_CONFIG_PATH=$(python -m promptsel --pkgconfigdir) pkg-config --cflags --libs promptsel
"""

import argparse
import sys
from pathlib import Path

from . import __version__, _native


def include_dir() -> Path:
    """The directory holding promptsel.h: the wheel's copy, else the checkout's."""
    bundled = _native.PACKAGE_DIR / "include"
    if (bundled / "promptsel.h").is_file():
        return bundled
    if _native.CHECKOUT is not None and (_native.CHECKOUT / "include" / "promptsel.h").is_file():
        return _native.CHECKOUT / "include"
    raise FileNotFoundError(f"promptsel.h is neither in {bundled} nor in a source checkout: reinstall promptsel")


def library_path() -> Path:
    """The libpromptsel.so this interpreter loaded."""
    return _native.library_path()


def pkgconfig_dir() -> Path:
    d = _native.PACKAGE_DIR / "pkgconfig"
    if (d / "promptsel.pc").is_file():
        return d
    raise FileNotFoundError("promptsel.pc ships in the installed wheel only; in a source checkout use "
                            "--cflags and --libs")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m promptsel", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--version", action="store_true", help="the library's version")
    group.add_argument("--includedir", action="store_true", help="directory of promptsel.h")
    group.add_argument("--libdir", action="store_true", help="directory of libpromptsel.so")
    group.add_argument("--library", action="store_true", help="path of libpromptsel.so")
    group.add_argument("--cflags", action="store_true", help="compiler flags: -I<includedir>")
    group.add_argument("--libs", action="store_true", help="linker flags: -L, -rpath and -lpromptsel")
    group.add_argument("--pkgconfigdir", action="store_true", help="directory of promptsel.pc (installed wheel)")
    args = parser.parse_args(argv)
    try:
        if args.version:
            out = __version__
        elif args.includedir:
            out = str(include_dir())
        elif args.libdir:
            out = str(library_path().parent)
        elif args.library:
            out = str(library_path())
        elif args.cflags:
            out = f"-I{include_dir()}"
        elif args.libs:
            libdir = library_path().parent
            out = f"-L{libdir} -Wl,-rpath,{libdir} -lpromptsel"
        else:
            out = str(pkgconfig_dir())
    except FileNotFoundError as e:
        print(f"python -m promptsel: {e}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
