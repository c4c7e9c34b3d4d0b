"""Dedup at three levels (DESIGN §4): canonical URL, exact content hash, near-duplicate text by MinHash LSH.

Near-duplicates. Each article becomes the set of its word 5-shingles (five consecutive normalised words); the
MinHash signature of 128 values estimates the Jaccard similarity of two such sets (the share of equal positions).
For lookup, the signature is cut into **32 bands of 4 rows**; two articles become candidates when any band is
equal, which is an indexed (band, hash) lookup in ``article_bands``. The probability that a pair with similarity
s shares at least one band is ``1 - (1 - s**4) ** 32``:

    s = 0.2 -> 5%    s = 0.3 -> 23%    s = 0.4 -> 56%    s = 0.5 -> 87%    s = 0.6 -> 98.8%    s = 0.8 -> ~100%

so the S-curve's midpoint is ``(1/32) ** (1/4) ≈ 0.42``: below the 0.5-0.6 similarity at which we call a text a
near-duplicate, on purpose. LSH finds candidates with high recall (wire copies are ~1.0, light rewrites
0.5-0.8) and the caller confirms each candidate with :func:`estimated_jaccard` >= :data:`NEAR_DUPLICATE_JACCARD`,
which removes the false positives cheaply. 16 bands of 8 rows would put the midpoint at 0.71 and miss most
rewrites; 64 bands of 2 rows would make every article a candidate of everything on the same topic.

Hashing is stable across processes and versions (blake2b, never Python's salted ``hash()``): signatures and
band keys are stored in the database and compared across workers and restarts. The permutations are
``(a*x + b) mod (2**31 - 1)`` with a, b derived from blake2b of a fixed label, so they never depend on numpy's
random streams either. Changing any of this invalidates stored band keys: bump ``MINHASH_VERSION``.
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import numpy as np

MINHASH_VERSION = 1
SHINGLE_WORDS = 5
DEFAULT_NUM_PERM = 128
DEFAULT_BANDS = 32  # x 4 rows: see the module docstring
NEAR_DUPLICATE_JACCARD = 0.5  # confirm an LSH candidate at or above this estimated similarity

_PRIME = (1 << 31) - 1  # Mersenne prime: a*x + b stays below 2**63, so uint64 numpy arithmetic never overflows
_EMPTY = _PRIME  # never produced by "mod _PRIME": marks the signature of a text without words
_CHUNK = 4096  # shingles per vectorised block: bounds memory to 4096 x num_perm x 8 bytes (4 MB at 128)


# --- level 1: canonical URL --------------------------------------------------------------------------------
# Query parameters that identify a campaign, a click or a referrer, never the document.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid", "igshid",
        "mc_cid", "mc_eid", "ref", "ref_src", "ref_url", "referrer", "cmpid", "cmp", "ocid", "icid", "ncid",
        "sr_share", "smid", "smtyp", "s_cid", "ito", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "xtor",
        "guccounter", "guce_referrer", "guce_referrer_sig", "spm", "rss", "amp",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "ns_", "hsa_", "oly_", "vero_", "itm_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_AMP_CACHE_SUFFIX = ".cdn.ampproject.org"
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


def _is_tracking(name: str, value: str) -> bool:
    key = name.lower()
    if key in _TRACKING_PARAMS or key.startswith(_TRACKING_PREFIXES):
        return True
    return key == "outputtype" and value.lower() == "amp"


def _normalise_escapes(path: str) -> str:
    """Upper-case percent escapes and decode the ones that encode unreserved characters (RFC 3986 §6.2.2)."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else f"%{match.group(1).upper()}"

    return _PERCENT.sub(fix, path)


def _strip_amp(path: str) -> str:
    if path.endswith(".amp.html"):
        path = path[: -len(".amp.html")] + ".html"
    elif path.endswith(".amp"):
        path = path[: -len(".amp")]
    if path.startswith("/amp/"):
        path = path[len("/amp") :]
    stripped = path.rstrip("/")
    if stripped.endswith("/amp"):
        path = stripped[: -len("/amp")]
    return path


def _unwrap_amp_cache(host: str, path: str) -> tuple[str, str, str] | None:
    """https://www-example-com.cdn.ampproject.org/c/s/www.example.com/a → ("https", "www.example.com", "/a")."""
    if not host.endswith(_AMP_CACHE_SUFFIX):
        return None
    match = re.match(r"^/[a-z]/(s/)?([^/]+)(/.*)?$", path)
    if match is None:
        return None
    return ("https" if match.group(1) else "http"), match.group(2), match.group(3) or "/"


def canonical_url(url: str) -> str:
    """A stable key for "the same document": equal for URLs that differ only in ways publishers vary.

    Lower-case scheme and host, ``www.`` and ``amp.`` dropped, http → https, default ports, user info and
    fragment dropped, tracking parameters (utm_*, fbclid, gclid, mc_cid, mc_eid, ref, cmpid, ocid, ...) removed,
    the rest sorted, AMP variants (``/amp``, ``/amp/...``, ``.amp``, ``?amp``, ``outputType=amp``, the Google AMP
    cache) folded into the article URL, percent-escapes normalised, duplicate and trailing slashes removed.
    Anything that is not an http(s) URL comes back stripped but otherwise unchanged.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in ("http", "https") or not host:
        return url
    path = parts.path or "/"
    unwrapped = _unwrap_amp_cache(host, path)
    if unwrapped is not None:
        scheme, host, path = unwrapped
        host, port = host.lower(), None
    if port == _DEFAULT_PORTS.get(scheme):
        port = None
    scheme = "https"
    for prefix in ("www.", "amp."):
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None or port == 443 else f"{host}:{port}"

    path = _normalise_escapes(re.sub(r"/{2,}", "/", path))
    path = _strip_amp(path).rstrip("/")
    query_pairs = [
        (name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(name, value)
    ]
    query = urlencode(sorted(query_pairs), quote_via=quote)
    return urlunsplit((scheme, netloc, path, query, ""))


# --- level 2: exact text -----------------------------------------------------------------------------------
def normalise_text(text: str) -> str:
    """NFKC, case-folded, punctuation and symbols removed, whitespace collapsed to single spaces."""
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = [" " if unicodedata.category(char)[0] in "PSZC" else char for char in text]
    return " ".join("".join(kept).split())


def content_hash(text: str) -> str:
    """sha256 hex of :func:`normalise_text`: equal for texts differing only in case, spacing or punctuation."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


# --- level 3: near-duplicates ------------------------------------------------------------------------------
def _stable_int(label: str) -> int:
    return int.from_bytes(hashlib.blake2b(label.encode("utf-8"), digest_size=8).digest(), "little")


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    label = f"dmzwatch-minhash-v{MINHASH_VERSION}"
    a = [1 + _stable_int(f"{label}:a:{i}") % (_PRIME - 1) for i in range(num_perm)]  # a != 0
    b = [_stable_int(f"{label}:b:{i}") % _PRIME for i in range(num_perm)]
    return np.array(a, dtype=np.uint64), np.array(b, dtype=np.uint64)


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """Word ``size``-shingles of the normalised text (a text shorter than ``size`` words is one shingle)."""
    words = normalise_text(text).split()
    if not words:
        return set()
    if len(words) <= size:
        return {" ".join(words)}
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def minhash_signature(text: str, num_perm: int = DEFAULT_NUM_PERM) -> tuple[int, ...]:
    """MinHash of the text's word 5-shingles: ``num_perm`` ints below 2**31 (all ``2**31 - 1`` for no words)."""
    items = shingles(text)
    if not items:
        return (_EMPTY,) * num_perm
    hashes = np.fromiter((_stable_int(item) % _PRIME for item in items), dtype=np.uint64, count=len(items))
    a, b = _permutations(num_perm)
    signature = np.full(num_perm, _EMPTY, dtype=np.uint64)
    for start in range(0, len(hashes), _CHUNK):
        block = hashes[start : start + _CHUNK, None]
        np.minimum(signature, ((block * a + b) % _PRIME).min(axis=0), out=signature)
    return tuple(int(value) for value in signature)


def band_keys(signature: Sequence[int], bands: int = DEFAULT_BANDS) -> list[tuple[int, str]]:
    """LSH keys: (band index, 16-hex-digit blake2b of the band's rows), one per band. A text without words has
    no keys (it must not match every other empty text)."""
    if bands <= 0 or len(signature) % bands:
        raise ValueError(f"{len(signature)} signature values cannot be cut into {bands} equal bands")
    rows = len(signature) // bands
    keys: list[tuple[int, str]] = []
    for band in range(bands):
        values = signature[band * rows : (band + 1) * rows]
        if all(value == _EMPTY for value in values):
            continue
        digest = hashlib.blake2b(struct.pack(f">{rows}I", *values), digest_size=8).hexdigest()
        keys.append((band, digest))
    return keys


def estimated_jaccard(sig_a: Sequence[int], sig_b: Sequence[int]) -> float:
    """Share of equal signature positions: an unbiased estimate of the shingle sets' Jaccard similarity
    (standard error about 0.04 at 128 permutations). 0.0 when either text had no words."""
    if len(sig_a) != len(sig_b):
        raise ValueError(f"signatures differ in length ({len(sig_a)} vs {len(sig_b)})")
    if not sig_a or all(v == _EMPTY for v in sig_a) or all(v == _EMPTY for v in sig_b):
        return 0.0
    return sum(x == y for x, y in zip(sig_a, sig_b, strict=True)) / len(sig_a)


def is_near_duplicate(sig_a: Sequence[int], sig_b: Sequence[int]) -> bool:
    return estimated_jaccard(sig_a, sig_b) >= NEAR_DUPLICATE_JACCARD


def pack_signature(signature: Sequence[int]) -> bytes:
    """Compact storage form: big-endian uint32 per value (512 bytes for 128 permutations)."""
    return struct.pack(f">{len(signature)}I", *signature)


def unpack_signature(blob: bytes) -> tuple[int, ...]:
    """Inverse of :func:`pack_signature`."""
    if len(blob) % 4:
        raise ValueError(f"a packed signature is a multiple of 4 bytes, got {len(blob)}")
    return struct.unpack(f">{len(blob) // 4}I", blob)
