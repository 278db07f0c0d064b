"""promptsel.prompt_ids and promptsel_ids_from_strings: string prompt ids as int64, the
same in C and Python, in every process; canonical integer spellings are the integer;
collisions within a call are refused."""

import json
import random

import numpy as np
import pytest

import promptsel
from promptsel import InvalidArgumentError, OutOfRangeError, _native, ids as ids_module

# ---- a pure-Python reference of the header's definition ----------------------------

_MASK = 2**64 - 1


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & _MASK
    return h


def fmix64(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _MASK
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _MASK
    h ^= h >> 33
    return h


def reference_id(value) -> int:
    if isinstance(value, int):
        return value
    data = value.encode("utf-8") if isinstance(value, str) else value
    try:
        k = int(data.decode("ascii"))
        if str(k).encode() == data and -(2**63) <= k < 2**63:
            return k
    except (UnicodeDecodeError, ValueError):
        pass
    h = fmix64(fnv1a64(data))
    return h - 2**64 if h >= 2**63 else h


def _random_strings(rng, n):
    alphabets = ["abcxyz", "0123456789", "-0123456789", "0123456789_+ ", "αβγ日本語é", "\0\n\t/"]
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.15:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40))))  # not UTF-8, mostly
        elif kind < 0.3:
            out.append(str(rng.randrange(-(2**64), 2**64)))  # canonical or just out of range
        else:
            alphabet = rng.choice(alphabets)
            out.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 25))))
    return out


# ---- the mapping ---------------------------------------------------------------------

def test_documented_examples():
    got = promptsel.prompt_ids(["7", "-7", "0", "007", "-0", "", "abc", "9223372036854775807",
                                "9223372036854775808", "-9223372036854775808", "+7", " 7", "1_000"])
    expected = [7, -7, 0, reference_id("007"), reference_id("-0"), -1166397803181037274, 3741276987793851837,
                2**63 - 1, reference_id("9223372036854775808"), -(2**63), reference_id("+7"), reference_id(" 7"),
                reference_id("1_000")]
    assert got.dtype == np.int64 and got.tolist() == expected
    for s in ("007", "-0", "9223372036854775808", "+7", " 7", "1_000"):
        assert reference_id(s) != int(s.replace("_", "")), s  # hashed, not parsed


def test_native_hash_agrees_with_the_python_reference_on_random_strings():
    rng = random.Random(20260501)
    values = _random_strings(rng, 3000)
    values = list(dict.fromkeys(values))  # distinct values (repeats are fine, but not needed here)
    got = promptsel.prompt_ids(values)
    assert got.tolist() == [reference_id(v) for v in values]


def test_hypothesis_native_agrees_with_reference():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.one_of(st.binary(max_size=30), st.text(max_size=30).filter(_utf8_ok),
                              st.integers(-(2**63), 2**63 - 1).map(str)), max_size=20, unique=True))
    def check(values):
        got = promptsel.prompt_ids(values)
        assert got.tolist() == [reference_id(v) for v in values]

    check()


def _utf8_ok(s):
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def test_canonical_integer_strings_are_the_integers():
    ints = [0, 1, -1, 42, -(2**63), 2**63 - 1, 10**18, -(10**18) + 7]
    assert promptsel.prompt_ids([str(k) for k in ints]).tolist() == ints
    assert promptsel.prompt_ids([str(k).encode() for k in ints]).tolist() == ints
    # A run keyed by str(index) and one keyed by index agree.
    index = np.arange(-50, 500, dtype=np.int64)
    np.testing.assert_array_equal(promptsel.prompt_ids([str(i) for i in index.tolist()]), index)


def test_integers_pass_through_and_mixed_inputs():
    arr = np.array([3, -4, 2**40], dtype=np.int64)
    out = promptsel.prompt_ids(arr)
    assert out.tolist() == [3, -4, 2**40] and out is not arr
    out[0] = 99
    assert arr[0] == 3  # a copy, never the caller's array
    for dtype in (np.int8, np.int32, np.uint16, np.uint64):
        assert promptsel.prompt_ids(np.array([1, 2], dtype=dtype)).tolist() == [1, 2]
    mixed = [5, "5", b"5", np.int64(5), "abc", b"abc", bytearray(b"abc"), np.str_("abc"), "日本"]
    got = promptsel.prompt_ids(mixed).tolist()
    assert got == [5, 5, 5, 5] + [reference_id("abc")] * 4 + [reference_id("日本")]
    obj = np.array([1, "x", b"y"], dtype=object)
    assert promptsel.prompt_ids(obj).tolist() == [1, reference_id("x"), reference_id(b"y")]
    assert promptsel.prompt_ids(np.array(["a", "12"])).tolist() == [reference_id("a"), 12]
    assert promptsel.prompt_ids([]).dtype == np.int64 and promptsel.prompt_ids([]).size == 0
    assert promptsel.prompt_ids(np.array([])).size == 0
    assert promptsel.prompt_ids(x for x in ["1", 2]).tolist() == [1, 2]
    assert promptsel.prompt_ids([2**63 - 1, -(2**63)]).tolist() == [2**63 - 1, -(2**63)]


def test_all_strings_of_a_call_go_through_one_native_call(monkeypatch):
    calls = []
    real = _native.ids_from_strings

    def counting(data, offsets):
        calls.append(offsets.size - 1)
        return real(data, offsets)

    monkeypatch.setattr(_native, "ids_from_strings", counting)
    promptsel.prompt_ids(["a", 1, "b", b"c", 2, "3"])
    assert calls == [4]
    promptsel.prompt_ids([1, 2, 3])
    assert calls == [4]  # no strings, no call


def test_the_same_ids_in_another_process(run_python):
    rng = random.Random(7)
    values = list(dict.fromkeys(_random_strings(rng, 200)))
    here = promptsel.prompt_ids(values).tolist()
    code = f"""
        import json, promptsel
        print(json.dumps(promptsel.prompt_ids({values!r}).tolist()))
    """
    # Another process, with another str hash seed: nothing may depend on Python's hash().
    r = run_python(code, PYTHONHASHSEED="12345")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == here


def test_the_c_function_directly():
    blobs = [b"7", b"", b"\xff\x00abc", b"-0"]
    offsets = np.array([0, 1, 1, 6, 8], dtype=np.uintp)
    got = _native.ids_from_strings(np.frombuffer(b"".join(blobs), dtype=np.uint8), offsets)
    assert got.tolist() == [reference_id(b) for b in blobs]


# ---- collisions ----------------------------------------------------------------------

def test_repeated_values_are_fine_and_5_equals_the_string_5():
    got = promptsel.prompt_ids(["a", "a", b"a", 5, "5", 5, np.int32(5), "b", "a"])
    assert got.tolist() == [reference_id("a")] * 3 + [5] * 4 + [reference_id("b"), reference_id("a")]


def test_an_integer_equal_to_a_strings_hash_is_a_collision():
    h = reference_id("abc")
    with pytest.raises(InvalidArgumentError, match=r"values\[0\] = 'abc' and values\[2\] = "
                                                   + str(h) + ".*same id " + str(h)):
        promptsel.prompt_ids(["abc", 1, h])
    with pytest.raises(InvalidArgumentError, match="collision"):
        promptsel.prompt_ids(np.array([h, "abc"], dtype=object))
    # Alone, each is fine.
    assert promptsel.prompt_ids([h]).tolist() == promptsel.prompt_ids(["abc"]).tolist() == [h]


def test_two_strings_with_one_hash_are_a_collision(monkeypatch):
    real = _native.ids_from_strings

    def colliding(data, offsets):
        out = real(data, offsets)
        out[:] = 1234567  # every string hashes alike
        return out

    monkeypatch.setattr(_native, "ids_from_strings", colliding)
    with pytest.raises(InvalidArgumentError, match=r"values\[1\] = 'x' and values\[3\] = b'y'.*1234567"):
        promptsel.prompt_ids([1, "x", "x", b"y"])
    assert promptsel.prompt_ids(["x", b"x", "x"]).tolist() == [1234567] * 3  # one value, repeated


# ---- bad input -----------------------------------------------------------------------

@pytest.mark.parametrize("values, exc, message", [
    ([1, 2.0], InvalidArgumentError, r"values\[1\] = 2.0 \(float\)"),
    (["a", None, 1.5], InvalidArgumentError, r"values\[1\] = None"),
    ([True], InvalidArgumentError, r"values\[0\] = True \(bool\)"),
    ([1, np.bool_(False)], InvalidArgumentError, r"values\[1\]"),
    ([np.float64(3)], InvalidArgumentError, r"values\[0\]"),
    ([1, [2]], InvalidArgumentError, r"values\[1\] = \[2\] \(list\)"),
    ([memoryview(b"a")], InvalidArgumentError, r"values\[0\]"),
    (np.array([1.0, 2.0]), InvalidArgumentError, r"dtype float64"),
    (np.array([True]), InvalidArgumentError, r"dtype bool"),
    (np.array([[1, 2]]), InvalidArgumentError, "1-D"),
    (np.int64(3), InvalidArgumentError, "1-D"),
    ("abc", InvalidArgumentError, "single str"),
    (b"abc", InvalidArgumentError, "single bytes"),
    (5, InvalidArgumentError, "sequence"),
    (None, InvalidArgumentError, "sequence"),
    (["ok", "\ud800"], InvalidArgumentError, r"values\[1\].*not valid Unicode"),
    ([1, 2**63], OutOfRangeError, r"values\[1\] = 9223372036854775808"),
    ([-(2**63) - 1], OutOfRangeError, "int64"),
    (np.array([1, 2**63], dtype=np.uint64), OutOfRangeError, r"values\[1\]"),
])
def test_bad_values_are_refused_naming_the_first_bad_element(values, exc, message):
    with pytest.raises(exc, match=message):
        promptsel.prompt_ids(values)


def test_exported_from_the_package():
    assert promptsel.prompt_ids is ids_module.prompt_ids and "prompt_ids" in promptsel.__all__
