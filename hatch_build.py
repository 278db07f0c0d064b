"""Hatchling hooks: the package version from include/promptsel.h, and the wheel's
native library built with the Swift stdlib linked statically.

Why hatchling: it is a maintained, standards-based backend whose build-hook API is
made for this case (a pure-Python package plus a prebuilt native file): the hook
compiles with `swift build`, hands hatchling the stripped library to place inside
the package, and sets the platform tag; hatchling writes a correct wheel, sdist and
editable install. scikit-build-core and meson-python would put CMake or Meson around
a SwiftPM build that neither understands; setuptools would need a custom command
class to do the same with more code.

Environment: SWIFT (the `swift` driver, else PATH, else /opt/swift/usr/bin/swift),
PROMPTSEL_STATIC_SCRATCH (SwiftPM scratch path, default .build-static in the source
tree, so `make lib-static`, `pip wheel .` and `make dist` share one build).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
    from hatchling.metadata.plugin.interface import MetadataHookInterface
except ImportError:  # run as a script (`make lib-static`): only the build functions are used
    BuildHookInterface = MetadataHookInterface = object

ROOT = Path(__file__).resolve().parent
HEADER = ROOT / "include" / "promptsel.h"

# The wheel's build: the Swift runtime inside the library; hypotf re-bound to keep
# the glibc floor at 2.34 (Sources/PromptSelGlibcCompat); a SONAME for C consumers.
STATIC_FLAGS = ["-Xswiftc", "-static-stdlib", "-Xlinker", "--wrap=hypotf",
                "-Xlinker", "-soname=libpromptsel.so"]


# Installed beside the library; ${pcfiledir} keeps it valid wherever pip puts it.
PKGCONFIG = """\
prefix=${{pcfiledir}}/..
libdir=${{prefix}}
includedir=${{prefix}}/include

Name: promptsel
Description: Online prompt selection for RL post-training (libpromptsel, C ABI)
Version: {version}
Cflags: -I${{includedir}}
Libs: -L${{libdir}} -Wl,-rpath,${{libdir}} -lpromptsel
"""


def header_version(header: Path = HEADER) -> str:
    """MAJOR.MINOR.PATCH from the header's PROMPTSEL_VERSION_* macros, the one source
    of the version (the library builds its version string from the same macros)."""
    text = header.read_text()
    parts = []
    for name in ("MAJOR", "MINOR", "PATCH"):
        m = re.search(rf"^#define\s+PROMPTSEL_VERSION_{name}\s+(\d+)\s*$", text, re.M)
        if not m:
            raise RuntimeError(f"{header}: no #define PROMPTSEL_VERSION_{name}")
        parts.append(m.group(1))
    return ".".join(parts)


def required_versions(library: Path) -> dict[str, tuple[int, ...]]:
    """Highest GLIBC_ and GLIBCXX_ symbol versions `library` needs, from its
    .gnu.version_r section (what the dynamic loader checks), e.g.
    {"GLIBC": (2, 34), "GLIBCXX": (3, 4, 29)}."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    best: dict[str, tuple[int, ...]] = {}
    with library.open("rb") as f:
        elf = ELFFile(f)
        for section in elf.iter_sections():
            if not isinstance(section, GNUVerNeedSection):
                continue
            for _, auxiliaries in section.iter_versions():
                for aux in auxiliaries:
                    m = re.fullmatch(r"(GLIBC|GLIBCXX)_([0-9.]+)", aux.name)
                    if m:
                        version = tuple(int(x) for x in m.group(2).split("."))
                        best[m.group(1)] = max(best.get(m.group(1), ()), version)
    return best


def needed_libraries(library: Path) -> list[str]:
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    with library.open("rb") as f:
        elf = ELFFile(f)
        return [tag.needed for s in elf.iter_sections() if isinstance(s, DynamicSection)
                for tag in s.iter_tags() if tag.entry.d_tag == "DT_NEEDED"]


def elf_arch(library: Path) -> str:
    from elftools.elf.elffile import ELFFile

    with library.open("rb") as f:
        machine = ELFFile(f)["e_machine"]
    arch = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64"}.get(machine)
    if arch is None:
        raise RuntimeError(f"{library}: no manylinux tag for machine {machine}")
    return arch


def platform_tag(library: Path) -> str:
    """manylinux_2_X_<arch> with X the highest GLIBC_2.X the library needs."""
    glibc = required_versions(library).get("GLIBC", (2, 17))
    return f"manylinux_{glibc[0]}_{glibc[1]}_{elf_arch(library)}"


def find_swift() -> str:
    for candidate in (os.environ.get("SWIFT"), shutil.which("swift"), "/opt/swift/usr/bin/swift"):
        if candidate and (shutil.which(candidate) or Path(candidate).is_file()):
            return candidate
    raise RuntimeError(
        "building promptsel from source needs the Swift 6 toolchain (swift not found on PATH, "
        "SWIFT unset, no /opt/swift/usr/bin/swift). On a machine without Swift, install the "
        "prebuilt wheel instead: pip install promptsel-<version>-py3-none-manylinux_*.whl")


def build_static_library(root: Path = ROOT) -> Path:
    """Builds libpromptsel.so with the Swift stdlib inside (incremental: a no-op when
    nothing changed) and returns its path."""
    scratch = Path(os.environ.get("PROMPTSEL_STATIC_SCRATCH", root / ".build-static"))
    cmd = [find_swift(), "build", "-c", "release", "--product", "promptsel",
           "--package-path", str(root), "--scratch-path", str(scratch), *STATIC_FLAGS]
    subprocess.run(cmd, check=True)
    library = scratch / "release" / "libpromptsel.so"
    if not library.is_file():
        raise RuntimeError(f"swift build succeeded but {library} is missing")
    return library


def strip_copy(library: Path, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(library, out)
    strip = shutil.which("strip") or shutil.which("llvm-strip")
    if strip is None:
        raise RuntimeError("no strip or llvm-strip on PATH (binutils)")
    subprocess.run([strip, "--strip-unneeded", str(out)], check=True)
    return out


class VersionFromHeader(MetadataHookInterface):
    PLUGIN_NAME = "custom"

    def update(self, metadata: dict) -> None:
        metadata["version"] = header_version(Path(self.root) / "include" / "promptsel.h")


class StaticLibraryHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        library = build_static_library(root)
        if version == "editable":
            # The editable install imports python/promptsel from this tree, whose
            # loader finds .build-static/release/ (see _native.py): nothing to bundle.
            return
        swift_runtime = [n for n in needed_libraries(library) if n.startswith("libswift")]
        if swift_runtime:
            raise RuntimeError(f"{library} still needs the Swift runtime ({', '.join(swift_runtime)}): "
                               "the static-stdlib build failed to link it in")
        staging = library.parent.parent / "wheel"
        bundled = strip_copy(library, staging / "libpromptsel.so")
        pc = staging / "promptsel.pc"
        pc.write_text(PKGCONFIG.format(version=self.metadata.version))
        include = build_data["force_include"]
        include[str(bundled)] = "promptsel/libpromptsel.so"
        include[str(root / "include" / "promptsel.h")] = "promptsel/include/promptsel.h"
        include[str(pc)] = "promptsel/pkgconfig/promptsel.pc"
        build_data["pure_python"] = False
        build_data["tag"] = f"py3-none-{platform_tag(bundled)}"


if __name__ == "__main__":  # `make lib-static`
    print(build_static_library())
