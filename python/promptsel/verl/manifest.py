"""TaskSampler's checkpoint directory: two files read as one state.

`TaskSampler.save(dir)` writes the native checkpoint and the reference's file
(index_score.json / hmm_params.json content), and no two renames are atomic
together. So each save writes its files under new names of one generation,

    promptsel_state.g<N>.<token>.bin    index_score.g<N>.<token>.json (or hmm_params.)

each atomically (temporary file, fsync, rename, directory fsync: the library's
promptsel_file_write_atomic), and then `promptsel_manifest.json`, atomically and
last, naming both with their sizes and CRC-32s. The directory holds exactly the
state its manifest names: a save that fails before the manifest's rename leaves
the previous manifest, whose files it never touched. Only after the manifest
landed are files no manifest names removed (earlier generations, leftovers of
failed saves, and the plain `promptsel_state.bin` / `index_score.json` /
`hmm_params.json` of a directory saved before manifests existed).

A directory without a manifest (written before manifests existed) loads as before.
One writer per directory at a time.
"""

import json
import os
import re
import warnings
import zlib

from .. import _native
from ..errors import CheckpointError, PromptSelError, PromptSelIOError
from ..formats import HMM_PARAMS_FILE, INDEX_SCORE_FILE

MANIFEST_FILE = "promptsel_manifest.json"
FORMAT = "promptsel.TaskSampler.checkpoint"
VERSION = 1
#: The native checkpoint of directories saved before manifests (still loaded).
LEGACY_NATIVE_FILE = "promptsel_state.bin"
#: Everything a TaskSampler.save ever wrote under a fixed name.
LEGACY_FILES = (LEGACY_NATIVE_FILE, INDEX_SCORE_FILE, HMM_PARAMS_FILE)
#: The names a save generates: stem, generation, 8 hex of randomness, extension.
_GENERATED = re.compile(r"(promptsel_state|index_score|hmm_params)\.g([0-9]+)\.([0-9a-f]{8})\.(bin|json)",
                        re.ASCII)
_CHUNK = 1 << 22


def generated_name(base, generation, token):
    """`index_score.json` -> `index_score.g3.1a2b3c4d.json`."""
    stem, ext = os.path.splitext(base)
    return f"{stem}.g{generation}.{token}{ext}"


def describe(path):
    """{"name", "bytes", "crc32"} of a file just written (read back from disk: the
    manifest vouches for what is there, not for what was meant)."""
    crc, size = 0, 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            crc, size = zlib.crc32(chunk, crc), size + len(chunk)
    return {"name": os.path.basename(path), "bytes": size, "crc32": crc}


def read(directory):
    """The manifest of `directory` as a dict, or None when it has none. A manifest
    that is present but unreadable is a CheckpointError (never a silent fallback to
    the legacy files, which may be older)."""
    path = os.path.join(os.fspath(directory), MANIFEST_FILE)
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except FileNotFoundError:
        return None
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: not a promptsel manifest ({type(e).__name__}: {e})") from None
    except OSError as e:
        raise PromptSelIOError(f"{path}: cannot read the manifest: {e}") from e
    files = doc.get("files") if isinstance(doc, dict) else None
    if not (isinstance(doc, dict) and doc.get("format") == FORMAT and doc.get("version") == VERSION
            and isinstance(doc.get("generation"), int) and isinstance(files, dict) and "native" in files):
        raise CheckpointError(f"{path}: not a promptsel manifest of version {VERSION}")
    for role, entry in files.items():
        if not (role in ("native", "reference") and isinstance(entry, dict)
                and isinstance(entry.get("name"), str) and _GENERATED.fullmatch(entry["name"])
                and isinstance(entry.get("bytes"), int) and isinstance(entry.get("crc32"), int)):
            raise CheckpointError(f"{path}: bad entry {role!r}: {entry!r}")
    return doc


def checked(directory, doc, role):
    """The path of the manifest's `role` file, after checking that it is the file
    the manifest names (present, same size, same CRC-32)."""
    entry = doc["files"][role]
    path = os.path.join(os.fspath(directory), entry["name"])
    try:
        found = describe(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: named by {MANIFEST_FILE} (generation {doc['generation']}) but missing: "
                              "the checkpoint directory was damaged after its save") from None
    except OSError as e:
        raise PromptSelIOError(f"{path}: cannot read: {e}") from e
    if (found["bytes"], found["crc32"]) != (entry["bytes"], entry["crc32"]):
        raise CheckpointError(f"{path}: {found['bytes']} bytes with CRC-32 {found['crc32']:08x}, but "
                              f"{MANIFEST_FILE} (generation {doc['generation']}) records {entry['bytes']} bytes "
                              f"with CRC-32 {entry['crc32']:08x}: the file was changed after its save")
    return path


def next_generation(directory):
    """(generation, token) for the next save: one more than the current manifest's
    (1 when it has none or it cannot be read); the random token makes the names new
    even when a failed save of the same generation left files behind."""
    try:
        doc = read(directory)
    except PromptSelError:
        doc = None
    return (doc["generation"] + 1 if doc else 1), os.urandom(4).hex()


def write(directory, generation, method, files):
    """Writes the manifest atomically: the commit point of a save."""
    doc = {"format": FORMAT, "version": VERSION, "generation": generation, "method": method, "files": files}
    path = os.path.join(os.fspath(directory), MANIFEST_FILE)
    _native.write_atomic(os.fsencode(path), json.dumps(doc, indent=1).encode())


def remove_unnamed(directory, files):
    """After the manifest landed: removes the files of other generations and the
    legacy fixed names. A failure is a warning: the checkpoint is saved."""
    keep = {entry["name"] for entry in files.values()}
    directory = os.fspath(directory)
    try:
        names = os.listdir(directory)
    except OSError as e:
        warnings.warn(f"{directory}: saved, but cannot list it to remove older checkpoint files: {e}",
                      stacklevel=3)
        return
    for name in names:
        if name in keep or not (_GENERATED.fullmatch(name) or name in LEGACY_FILES):
            continue
        try:
            os.remove(os.path.join(directory, name))
        except FileNotFoundError:
            pass
        except OSError as e:
            warnings.warn(f"{directory}: saved (its manifest names the new files), but the older "
                          f"{name} could not be removed: {e}", stacklevel=3)
