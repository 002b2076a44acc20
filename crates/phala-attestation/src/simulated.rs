//! The simulated TEE's quote: a fixed-layout record that names itself as simulated in its
//! first bytes, so no tool, log or listing can mistake it for hardware evidence.
//!
//! Layout (130 bytes): [`MAGIC`] (32) ‖ version `u16` LE ‖ measurement (32) ‖ report data
//! (64). It carries no signature: anyone can make one, which is exactly why only chains that
//! opt in (`allow_simulated_tee`) accept it.

use crate::AttestationError;

/// The first 32 bytes of every simulated quote.
pub const MAGIC: &[u8; 32] = b"PHALA-SIMULATED-TEE-NOT-SECURE!!";
pub const VERSION: u16 = 1;
pub const LEN: usize = 32 + 2 + 32 + 64;

/// What simulated workers claim to run: the allowlist entry development chains carry.
pub const DEV_MEASUREMENT: [u8; 32] = *b"phala worker, simulated TEE, v1 ";

/// A decoded simulated quote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulatedQuote {
    /// What the simulated "enclave" claims to run: the allowlist key of simulated workers.
    pub measurement: [u8; 32],
    pub report_data: [u8; 64],
}

impl SimulatedQuote {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.measurement);
        out.extend_from_slice(&self.report_data);
        out
    }

    /// Decodes exactly [`LEN`] bytes; anything else is refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, AttestationError> {
        if bytes.len() != LEN {
            return Err(AttestationError::BadSimulatedQuote("wrong length"));
        }
        let (magic, rest) = bytes.split_at(MAGIC.len());
        if magic != MAGIC {
            return Err(AttestationError::BadSimulatedQuote("not a simulated quote"));
        }
        let (version, rest) = rest.split_at(2);
        if version != VERSION.to_le_bytes() {
            return Err(AttestationError::BadSimulatedQuote("unknown version"));
        }
        let (measurement, report_data) = rest.split_at(32);
        Ok(SimulatedQuote {
            measurement: measurement
                .try_into()
                .map_err(|_| AttestationError::BadSimulatedQuote("wrong length"))?,
            report_data: report_data
                .try_into()
                .map_err(|_| AttestationError::BadSimulatedQuote("wrong length"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_self_describing() {
        let q = SimulatedQuote {
            measurement: [7; 32],
            report_data: [9; 64],
        };
        let bytes = q.encode();
        assert_eq!(bytes.len(), LEN);
        assert!(bytes.starts_with(b"PHALA-SIMULATED-TEE-NOT-SECURE"));
        assert_eq!(SimulatedQuote::decode(&bytes).unwrap(), q);
        let mut long = bytes.clone();
        long.push(0);
        assert!(SimulatedQuote::decode(&long).is_err());
        let mut wrong_version = bytes;
        wrong_version[32] = 2;
        assert_eq!(
            SimulatedQuote::decode(&wrong_version),
            Err(AttestationError::BadSimulatedQuote("unknown version"))
        );
    }

    proptest! {
        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = SimulatedQuote::decode(&bytes);
        }
    }
}
