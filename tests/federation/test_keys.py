"""Tests for federation.keys: generation, PEM loading, PKCS#1 v1.5 SHA-256 sign/verify."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from federation.errors import FederationError, InvalidKeyError
from federation.keys import (
    KeyPair,
    generate_rsa_keypair,
    load_private_key,
    load_public_key,
    public_pem_from_private,
    rsa_sha256_sign,
    rsa_sha256_verify,
)

# The RSA test key of draft-cavage-http-signatures-12, Appendix C (PKCS#1 "RSA PRIVATE KEY").
CAVAGE_PRIVATE_PEM = """-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDCFENGw33yGihy92pDjZQhl0C36rPJj+CvfSC8+q28hxA161QF
NUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6Z4UMR7EOcpfdUE9Hf3m/hs+F
UR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJwoYi+1hqp1fIekaxsyQIDAQAB
AoGBAJR8ZkCUvx5kzv+utdl7T5MnordT1TvoXXJGXK7ZZ+UuvMNUCdN2QPc4sBiA
QWvLw1cSKt5DsKZ8UETpYPy8pPYnnDEz2dDYiaew9+xEpubyeW2oH4Zx71wqBtOK
kqwrXa/pzdpiucRRjk6vE6YY7EBBs/g7uanVpGibOVAEsqH1AkEA7DkjVH28WDUg
f1nqvfn2Kj6CT7nIcE3jGJsZZ7zlZmBmHFDONMLUrXR/Zm3pR5m0tCmBqa5RK95u
412jt1dPIwJBANJT3v8pnkth48bQo/fKel6uEYyboRtA5/uHuHkZ6FQF7OUkGogc
mSJluOdc5t6hI1VsLn0QZEjQZMEOWr+wKSMCQQCC4kXJEsHAve77oP6HtG/IiEn7
kpyUXRNvFsDE0czpJJBvL/aRFUJxuRK91jhjC68sA7NsKMGg5OXb5I5Jj36xAkEA
gIT7aFOYBFwGgQAQkWNKLvySgKbAZRTeLBacpHMuQdl1DfdntvAyqpAZ0lY0RKmW
G6aFKaqQfOXKCyWoUiVknQJAXrlgySFci/2ueKlIE1QqIiLSZ8V8OlpFLRnb1pzI
7U1yQXnTAEFYM560yJlzUpOb1V4cScGd365tiSMvxLOvTA==
-----END RSA PRIVATE KEY-----
"""

CAVAGE_PUBLIC_PEM = """-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCFENGw33yGihy92pDjZQhl0C3
6rPJj+CvfSC8+q28hxA161QFNUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6
Z4UMR7EOcpfdUE9Hf3m/hs+FUR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJw
oYi+1hqp1fIekaxsyQIDAQAB
-----END PUBLIC KEY-----
"""

# RFC 9421 Appendix B.1.1 test-key-rsa public key in its PKCS#1 "RSA PUBLIC KEY" form.
RFC9421_RSA_PUBLIC_PKCS1_PEM = """-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAhAKYdtoeoy8zcAcR874L8cnZxKzAGwd7v36APp7Pv6Q2jdsPBRrw
WEBnez6d0UDKDwGbc6nxfEXAy5mbhgajzrw3MOEt8uA5txSKobBpKDeBLOsdJKFq
MGmXCQvEG7YemcxDTRPxAleIAgYYRjTSd/QBwVW9OwNFhekro3RtlinV0a75jfZg
kne/YiktSvLG34lw2zqXBDTC5NHROUqGTlML4PlNZS5Ri2U4aCNx2rUPRcKIlE0P
uKxI4T+HIaFpv8+rdV6eUgOrB2xeI1dSFFn/nnv5OoZJEIB+VmuKn3DCUcCZSFlQ
PSXSfBDiUGhwOw76WuSSsf1D4b/vLoJ10wIDAQAB
-----END RSA PUBLIC KEY-----
"""

# A 512-bit RSA public key: loadable by cryptography, refused by our size floor.
SHORT_RSA_PUBLIC_PEM = """-----BEGIN PUBLIC KEY-----
MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALsbb937Q2iRb33vJShxZP5Iji98f8Em
yIiQCE6fxZaIhVsDDihX6a7OsuxtNgiL5+wmRxTEoiEre3/FKQKWc3MCAwEAAQ==
-----END PUBLIC KEY-----
"""

ED25519_PRIVATE_PEM = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIA/nykt7B4QxVX27iH5V/Xa11WK8FRg1Fz3XaUpaxt8X
-----END PRIVATE KEY-----
"""

ED25519_PUBLIC_PEM = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAenTGGUE/Il2XyiuzRNprlsVgdd7MkN8V6M6exIvAnxM=
-----END PUBLIC KEY-----
"""

# `printf fedipoly | openssl dgst -sha256 -sign cavage.pem | base64`
FEDIPOLY_SIGNATURE_B64 = (
    "d+X0e6F1mpk8SDj2mgQF5KT6eBuLibXS2kEGhHaIvw0b6lukuX6MBJ5bg6ZG6XW/xG3aP59YILmMaKt4kAsK+yNPT"
    "fNgs4ohX9FiZ3zLzqLOsmyUFBBgKbaCJRRy1722ACPdPv8LLpxl8f+jKs2Ncamjo/Yo0WKYVFF6nbfhucI="
)


def test_generate_rsa_keypair_is_2048_bit_pkcs8_and_spki() -> None:
    pair = generate_rsa_keypair()
    assert isinstance(pair, KeyPair)
    assert pair.private_pem.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert pair.public_pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    private = load_private_key(pair.private_pem)
    assert private.key_size == 2048
    assert private.public_key().public_numbers().e == 65537
    assert public_pem_from_private(pair.private_pem) == pair.public_pem


def test_generated_keypairs_differ_and_round_trip() -> None:
    first, second = generate_rsa_keypair(), generate_rsa_keypair()
    assert first.private_pem != second.private_pem
    signature = rsa_sha256_sign(first.private_pem, b"payload")
    assert rsa_sha256_verify(first.public_pem, b"payload", signature)
    assert not rsa_sha256_verify(second.public_pem, b"payload", signature)
    assert not rsa_sha256_verify(first.public_pem, b"payloaD", signature)


def test_keypair_is_frozen() -> None:
    pair = KeyPair(private_pem="a", public_pem="b")
    with pytest.raises(AttributeError):
        pair.private_pem = "c"  # type: ignore[misc]


def test_sign_matches_openssl_known_answer() -> None:
    # PKCS#1 v1.5 is deterministic: the same key and message give the same bytes as openssl.
    signature = rsa_sha256_sign(CAVAGE_PRIVATE_PEM, b"fedipoly")
    assert base64.b64encode(signature).decode() == FEDIPOLY_SIGNATURE_B64
    assert rsa_sha256_verify(CAVAGE_PUBLIC_PEM, b"fedipoly", signature)


def test_pkcs1_private_key_derives_the_published_spki_public_key() -> None:
    assert public_pem_from_private(CAVAGE_PRIVATE_PEM) == CAVAGE_PUBLIC_PEM


def test_pkcs1_public_key_form_is_accepted() -> None:
    key = load_public_key(RFC9421_RSA_PUBLIC_PKCS1_PEM)
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048


def test_loading_is_cached_by_pem_text() -> None:
    assert load_private_key(CAVAGE_PRIVATE_PEM) is load_private_key(CAVAGE_PRIVATE_PEM)
    assert load_public_key(CAVAGE_PUBLIC_PEM) is load_public_key(CAVAGE_PUBLIC_PEM)


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "not a key",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        CAVAGE_PRIVATE_PEM,  # a private key is not a public key
    ],
)
def test_bad_public_pem_raises_invalid_key_error(pem: str) -> None:
    with pytest.raises(InvalidKeyError):
        load_public_key(pem)


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "garbage",
        CAVAGE_PUBLIC_PEM,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    ],
)
def test_bad_private_pem_raises_invalid_key_error(pem: str) -> None:
    with pytest.raises(InvalidKeyError):
        load_private_key(pem)


def test_invalid_key_error_is_a_federation_error() -> None:
    with pytest.raises(FederationError):
        load_public_key("nope")


def test_non_rsa_keys_are_refused() -> None:
    with pytest.raises(InvalidKeyError, match="RSA"):
        load_public_key(ED25519_PUBLIC_PEM)
    with pytest.raises(InvalidKeyError, match="RSA"):
        load_private_key(ED25519_PRIVATE_PEM)


def test_short_rsa_keys_are_refused() -> None:
    with pytest.raises(InvalidKeyError, match="too short"):
        load_public_key(SHORT_RSA_PUBLIC_PEM)


def test_verify_with_unusable_key_raises() -> None:
    with pytest.raises(InvalidKeyError):
        rsa_sha256_verify("nope", b"data", b"sig")
