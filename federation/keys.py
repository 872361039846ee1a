"""RSA key handling for actors: generation, PEM loading, PKCS#1 v1.5 SHA-256 sign and verify.

Pure and storage-agnostic. RSA-2048 with RSASSA-PKCS1-v1_5 over SHA-256 is what every
Mastodon version signs and verifies with (``app/lib/signed_request.rb``: ``OpenSSL::Digest.new
('SHA256')`` on an RSA keypair); ``publicKey.publicKeyPem`` in actor documents is an SPKI PEM.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from federation.errors import InvalidKeyError

__all__ = [
    "MIN_RSA_BITS",
    "KeyPair",
    "generate_rsa_keypair",
    "load_private_key",
    "load_public_key",
    "public_pem_from_private",
    "rsa_sha256_sign",
    "rsa_sha256_verify",
]

#: Keys shorter than this are refused when loaded: 512-bit RSA is factorable on a laptop.
#: 1024 is still accepted because older peers (and the draft-cavage test vectors) use it.
MIN_RSA_BITS = 1024

_KEY_BITS = 2048
_PUBLIC_EXPONENT = 65537
# A remote actor document can make us load any number of distinct keys; bound the cache.
_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An RSA key pair as PEM text: PKCS#8 private key, SubjectPublicKeyInfo public key."""

    private_pem: str
    public_pem: str


def generate_rsa_keypair() -> KeyPair:
    """Generate a fresh RSA-2048 key pair (e = 65537)."""
    key = rsa.generate_private_key(public_exponent=_PUBLIC_EXPONENT, key_size=_KEY_BITS)
    private_pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    return KeyPair(private_pem=private_pem, public_pem=_public_pem(key.public_key()))


def _public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    ).decode("ascii")


def _check_size(bits: int) -> None:
    if bits < MIN_RSA_BITS:
        raise InvalidKeyError(f"RSA key is too short ({bits} bits; at least {MIN_RSA_BITS})")


# Loading PEM means parsing ASN.1 and, for private keys, checking the key's consistency,
# which costs milliseconds per call. The functions are pure, so caching by PEM text is safe;
# errors are not cached (lru_cache does not store raised exceptions).
@lru_cache(maxsize=_CACHE_SIZE)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Load an unencrypted RSA private key from PEM (PKCS#8 or PKCS#1 "RSA PRIVATE KEY").

    Raises :class:`InvalidKeyError` if the text is not such a key.
    """
    try:
        key = serialization.load_pem_private_key(pem.encode("utf-8"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidKeyError(f"not a usable PEM private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidKeyError(f"expected an RSA private key, got {type(key).__name__}")
    _check_size(key.key_size)
    return key


@lru_cache(maxsize=_CACHE_SIZE)
def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """Load an RSA public key from PEM (SubjectPublicKeyInfo or PKCS#1 "RSA PUBLIC KEY").

    Some implementations publish the PKCS#1 form in ``publicKeyPem``; both are accepted.
    Raises :class:`InvalidKeyError` if the text is not such a key.
    """
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidKeyError(f"not a usable PEM public key: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidKeyError(f"expected an RSA public key, got {type(key).__name__}")
    _check_size(key.key_size)
    return key


def public_pem_from_private(private_pem: str) -> str:
    """Return the SubjectPublicKeyInfo PEM matching a private key PEM."""
    return _public_pem(load_private_key(private_pem).public_key())


def rsa_sha256_sign(private_pem: str, data: bytes) -> bytes:
    """Sign ``data`` with RSASSA-PKCS1-v1_5 over SHA-256 (deterministic)."""
    return load_private_key(private_pem).sign(data, padding.PKCS1v15(), hashes.SHA256())


def rsa_sha256_verify(public_pem: str, data: bytes, signature: bytes) -> bool:
    """Return whether ``signature`` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of ``data``.

    Raises :class:`InvalidKeyError` if ``public_pem`` is not a usable RSA public key.
    """
    key = load_public_key(public_pem)
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
