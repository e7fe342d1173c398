//! A beacon round: its signature checked with the chain's public key, and
//! its randomness derived from the signature (sha256 of it, as drand does),
//! never taken from the relay. Pairing checks by `drand-verify` (noislabs:
//! no network or JSON of its own, zkcrypto's `bls12_381` underneath).

use drand_verify::{derive_randomness, G1Pubkey, G2PubkeyRfc, Pubkey};

/// The unchained schemes a draw can use: a round's signature depends on
/// its number alone, so any round can be checked on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `bls-unchained-g1-rfc9380` (quicknet): signatures on G1 (48 bytes),
    /// keys on G2 (96 bytes), RFC 9380 hashing to G1.
    G1Rfc9380,
    /// `pedersen-bls-unchained`: signatures on G2 (96 bytes), keys on G1
    /// (48 bytes).
    PedersenUnchained,
}

impl Scheme {
    pub fn from_id(id: &str) -> Result<Self, String> {
        match id {
            "bls-unchained-g1-rfc9380" => Ok(Self::G1Rfc9380),
            "pedersen-bls-unchained" => Ok(Self::PedersenUnchained),
            other => Err(format!(
                "beacon scheme {other:?} is not supported: use bls-unchained-g1-rfc9380 \
                 (drand's quicknet) or pedersen-bls-unchained"
            )),
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Self::G1Rfc9380 => "bls-unchained-g1-rfc9380",
            Self::PedersenUnchained => "pedersen-bls-unchained",
        }
    }

    pub fn public_key_len(self) -> usize {
        match self {
            Self::G1Rfc9380 => 96,
            Self::PedersenUnchained => 48,
        }
    }
}

/// Checks `signature` as round `round` of the chain whose key is
/// `public_key`; its randomness when it verifies.
pub fn verify(
    scheme: Scheme,
    public_key: &[u8],
    round: u64,
    signature: &[u8],
) -> Result<[u8; 32], String> {
    let verified = match scheme {
        Scheme::G1Rfc9380 => G2PubkeyRfc::from_variable(public_key)
            .map_err(|e| format!("the chain's public key: {e}"))?
            .verify(round, b"", signature),
        Scheme::PedersenUnchained => G1Pubkey::from_variable(public_key)
            .map_err(|e| format!("the chain's public key: {e}"))?
            .verify(round, b"", signature),
    };
    match verified {
        Ok(true) => Ok(derive_randomness(signature)),
        Ok(false) => Err(format!(
            "round {round}'s signature does not verify with the chain's key"
        )),
        Err(e) => Err(format!("round {round}'s signature: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quicknet's public key (its `/info`, public data; the chain tests
    /// check that it hashes to quicknet's chain hash).
    const QUICKNET_KEY: &str = "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a";

    fn bytes(text: &str) -> Vec<u8> {
        hex::decode(text).unwrap()
    }

    /// Real quicknet rounds (public data: drand's HTTP API documentation
    /// for round 42, noislabs/drand-verify's tests for 123, ideal-lab5's
    /// idn-sdk for 1000), with their published randomness.
    const QUICKNET_ROUNDS: [(u64, &str, &str); 3] = [
        (
            42,
            "95a9f9f5b231b7714de1553105d8ffdf3dcda24cfdb1e689319bccf79a9c8ce430a91b811fbfaf763900bc998b5d686a",
            "8ada64bae5c6c0f5540a6a13af56e663240edfbd2c76ac6a8f27671eb7259ce3",
        ),
        (
            123,
            "b75c69d0b72a5d906e854e808ba7e2accb1542ac355ae486d591aa9d43765482e26cd02df835d3546d23c4b13e0dfc92",
            "fb8f7bc29bf24db51871ec8c79f3a1e4bd0557bc0dfcee9ed1d924e69d1c60dc",
        ),
        (
            1000,
            "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39",
            "fe290beca10872ef2fb164d2aa4442de4566183ec51c56ff3cd603d930e54fdd",
        ),
    ];

    #[test]
    fn real_quicknet_rounds_verify_with_the_real_key() {
        let key = bytes(QUICKNET_KEY);
        for (round, signature, randomness) in QUICKNET_ROUNDS {
            let got = verify(Scheme::G1Rfc9380, &key, round, &bytes(signature)).unwrap();
            assert_eq!(hex::encode(got), randomness, "round {round}");
        }
    }

    #[test]
    fn a_signature_under_another_round_or_key_is_refused() {
        let key = bytes(QUICKNET_KEY);
        let (_, signature, _) = QUICKNET_ROUNDS[1];
        let err = verify(Scheme::G1Rfc9380, &key, 124, &bytes(signature)).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
        // One bit of the signature changed: not a point, or not the one.
        let mut bent = bytes(signature);
        bent[20] ^= 1;
        assert!(verify(Scheme::G1Rfc9380, &key, 123, &bent).is_err());
    }

    #[test]
    fn a_pedersen_unchained_round_verifies() {
        // The League of Entropy's unchained testnet, round 223344
        // (noislabs/drand-verify's tests).
        let key = bytes("8200fc249deb0148eb918d6e213980c5d01acd7fc251900d9260136da3b54836ce125172399ddc69c4e3e11429b62c11");
        let signature = bytes("94f6b85df7cce7237e8e7df66d794ddad092de5d8bb6a791b97e905aa89852e506ac36a792eba7021e22eebf34891f8914bf9a8dd9233ea0a4c5ca00ef8404999f899073dd2eade61fe54077fee8168f83dcb61a758b6883b38904054e64a433");
        let randomness = verify(Scheme::PedersenUnchained, &key, 223344, &signature).unwrap();
        assert_eq!(
            hex::encode(randomness),
            "f3d6adf1daa2c7877f90fb0f1a675ab0a42653a1e2a9b66fee0749d47a47bc57"
        );
        assert!(verify(Scheme::PedersenUnchained, &key, 223345, &signature).is_err());
    }

    #[test]
    fn other_schemes_are_named_and_refused() {
        assert_eq!(
            Scheme::from_id("pedersen-bls-unchained").unwrap().id(),
            "pedersen-bls-unchained"
        );
        let err = Scheme::from_id("pedersen-bls-chained").unwrap_err();
        assert!(err.contains("not supported"), "{err}");
    }
}
