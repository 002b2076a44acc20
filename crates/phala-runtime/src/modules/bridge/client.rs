//! On-chain light clients of counterparty chains, and the proofs checked against them.

use parity_scale_codec::{DecodeAll, Encode};
use phala_light_client::{LightClient, LightClientError, LightClientState, TranscriptRng};
use phala_primitives::{BlockNumber, Header};

use super::{
    CLIENTS, CONSENSUS_HEIGHTS, CONSENSUS_STATES, ClientId, ClientState, ClientStatus,
    ConsensusState, Error, Event, MAX_PROOF_BYTES, NEXT_CLIENT_ID, Proof, TrustedState,
};
use crate::Ext;
use crate::modules::{system, timestamp};

/// The storage key of client `id` (what a counterparty proves to confirm a channel).
pub fn client_key(id: ClientId) -> Vec<u8> {
    CLIENTS.key(&id)
}

/// Whether the client may be used now: frozen, or expired on this chain's clock, or active.
pub fn client_status(ext: &Ext, client: &ClientState) -> ClientStatus {
    if let ClientStatus::Frozen { height } = client.status {
        return ClientStatus::Frozen { height };
    }
    let deadline = client
        .latest_timestamp
        .saturating_add(client.trusting_period_ms);
    if timestamp::now(ext) > deadline {
        ClientStatus::Expired
    } else {
        ClientStatus::Active
    }
}

/// The client, if it exists and is usable.
pub(super) fn active_client(ext: &Ext, id: ClientId) -> Result<ClientState, Error> {
    let client = CLIENTS.get(ext, &id).ok_or(Error::UnknownClient)?;
    match client_status(ext, &client) {
        ClientStatus::Active => Ok(client),
        ClientStatus::Frozen { .. } => Err(Error::ClientFrozen),
        ClientStatus::Expired => Err(Error::ClientExpired),
    }
}

fn light_client(client: &ClientState) -> Result<LightClient, Error> {
    LightClient::resume(LightClientState {
        genesis_hash: client.genesis_hash,
        epoch: client.epoch,
        epoch_first: client.epoch_first,
        epoch_last: client.epoch_last,
        committee: client.committee.to_vec(),
        head_number: client.latest_height,
        head_hash: client.latest_hash,
    })
    .map_err(|_| Error::BadTrustedState)
}

/// The batch-verification randomness for one certificate: a hash of everything checked.
fn rng(client: &ClientState, header: &Header, certificate: &[u8]) -> TranscriptRng {
    TranscriptRng::new(
        b"phala/bridge/certificate",
        &[
            client.genesis_hash.as_bytes(),
            &header.encode(),
            certificate,
        ],
    )
}

pub(super) fn decode_header(bytes: &[u8]) -> Result<Header, Error> {
    Header::decode_all(&mut &*bytes).map_err(|_| Error::BadHeader)
}

pub(super) fn create(
    ext: &mut Ext,
    trusted: TrustedState,
    trusting_period_ms: u64,
) -> Result<ClientId, Error> {
    let own_genesis = system::block_hash(ext, 0);
    // The head is in the epoch, short of its last block, or is the block just before it
    // (the boundary that announced its committee): a client whose head ends its epoch
    // would still need that block's announcement, which a trusted state does not carry.
    let in_epoch = trusted.epoch_first <= trusted.head_number.saturating_add(1)
        && trusted.head_number < trusted.epoch_last
        && trusted.epoch_first < trusted.epoch_last;
    if !in_epoch
        || trusted.committee.is_empty()
        || !trusted
            .committee
            .iter()
            .all(phala_light_client::is_committee_key)
        || trusting_period_ms == 0
        || own_genesis == Some(trusted.genesis_hash)
    {
        return Err(Error::BadTrustedState);
    }
    let client = ClientState {
        genesis_hash: trusted.genesis_hash,
        epoch: trusted.epoch,
        epoch_first: trusted.epoch_first,
        epoch_last: trusted.epoch_last,
        committee: trusted.committee,
        latest_height: trusted.head_number,
        latest_hash: trusted.head_hash,
        latest_timestamp: trusted.timestamp,
        trusting_period_ms,
        status: ClientStatus::Active,
    };
    light_client(&client)?;
    let id = NEXT_CLIENT_ID.get_or_default(ext);
    let next = id.checked_add(1).ok_or(Error::Overflow)?;
    NEXT_CLIENT_ID.put(ext, &next);
    store_consensus(
        ext,
        id,
        client.latest_height,
        &ConsensusState {
            hash: client.latest_hash,
            state_root: trusted.state_root,
            timestamp: client.latest_timestamp,
        },
    );
    ext.deposit_event(Event::ClientCreated {
        client: id,
        genesis_hash: client.genesis_hash,
        height: client.latest_height,
    });
    CLIENTS.insert(ext, &id, &client);
    Ok(id)
}

/// Keeps the newest consensus states only: a relayer proves against a recent one.
fn store_consensus(ext: &mut Ext, id: ClientId, height: BlockNumber, state: &ConsensusState) {
    let mut heights = CONSENSUS_HEIGHTS.get_or_default(ext, &id);
    if heights.is_full() {
        let mut heights_mut = heights.as_mut_vec();
        if let Some(oldest) = heights_mut.remove(0) {
            CONSENSUS_STATES.remove(ext, &id, &oldest);
        }
    }
    // The vector was made room in above.
    let _ = heights.try_push(height);
    CONSENSUS_HEIGHTS.insert(ext, &id, &heights);
    CONSENSUS_STATES.insert(ext, &id, &height, state);
}

pub(super) enum Update {
    Advanced,
    /// The header conflicts with an accepted one at its height: the client is now frozen.
    Froze,
}

pub(super) fn update(
    ext: &mut Ext,
    id: ClientId,
    header: &Header,
    certificate: &[u8],
    timestamp_proof: &Proof,
) -> Result<Update, Error> {
    let mut client = active_client(ext, id)?;
    let mut light = light_client(&client)?;
    let mut rng = rng(&client, header, certificate);
    let hash = header.hash();
    if header.number <= client.latest_height {
        let Some(known) = CONSENSUS_STATES.get(ext, &id, &header.number) else {
            return Err(Error::HeaderNotNext);
        };
        if known.hash == hash {
            return Err(Error::HeaderKnown);
        }
        light
            .check_certified(&mut rng, header, certificate)
            .map_err(|_| Error::BadHeader)?;
        freeze(ext, id, &mut client, header.number);
        return Ok(Update::Froze);
    }
    light
        .import_header(&mut rng, header, certificate)
        .map_err(|e| match e {
            LightClientError::WrongEpoch { .. } | LightClientError::NotNext { .. } => {
                Error::HeaderNotNext
            }
            _ => Error::BadHeader,
        })?;
    let time = proven_timestamp(header, timestamp_proof)?;
    if time < client.latest_timestamp {
        return Err(Error::BadTimestamp);
    }
    let state = light.state();
    client.epoch = state.epoch;
    client.epoch_first = state.epoch_first;
    client.epoch_last = state.epoch_last;
    client.committee = crate::bounded::BoundedVec::new(state.committee).ok_or(Error::BadHeader)?;
    client.latest_height = header.number;
    client.latest_hash = hash;
    client.latest_timestamp = time;
    store_consensus(
        ext,
        id,
        header.number,
        &ConsensusState {
            hash,
            state_root: header.state_root,
            timestamp: time,
        },
    );
    CLIENTS.insert(ext, &id, &client);
    ext.deposit_event(Event::ClientUpdated {
        client: id,
        height: header.number,
        hash,
        epoch: client.epoch,
    });
    Ok(Update::Advanced)
}

/// Two headers at one height, both certified by the committee the client trusts, freeze
/// it: that committee equivocated, and nothing it signs can be believed.
pub(super) fn misbehaviour(
    ext: &mut Ext,
    id: ClientId,
    a: (&Header, &[u8]),
    b: (&Header, &[u8]),
) -> Result<(), Error> {
    let mut client = active_client(ext, id)?;
    let light = light_client(&client)?;
    if a.0.number != b.0.number || a.0.hash() == b.0.hash() {
        return Err(Error::NotMisbehaviour);
    }
    for (header, certificate) in [a, b] {
        light
            .check_certified(&mut rng(&client, header, certificate), header, certificate)
            .map_err(|_| Error::BadHeader)?;
    }
    freeze(ext, id, &mut client, a.0.number);
    Ok(())
}

fn freeze(ext: &mut Ext, id: ClientId, client: &mut ClientState, height: BlockNumber) {
    client.status = ClientStatus::Frozen { height };
    CLIENTS.insert(ext, &id, client);
    ext.deposit_event(Event::ClientFrozen { client: id, height });
}

/// The block time a header's state records, proven from its state root.
fn proven_timestamp(header: &Header, proof: &Proof) -> Result<u64, Error> {
    let key = timestamp::NOW.key();
    let value = verify(&header.state_root, proof, &[key.as_slice()])?
        .into_iter()
        .next()
        .flatten()
        .ok_or(Error::BadTimestamp)?;
    u64::decode_all(&mut value.as_slice()).map_err(|_| Error::BadTimestamp)
}

fn verify(
    root: &phala_primitives::H256,
    proof: &Proof,
    keys: &[&[u8]],
) -> Result<Vec<Option<Vec<u8>>>, Error> {
    let total = proof
        .iter()
        .try_fold(0usize, |sum, node| sum.checked_add(node.len()))
        .ok_or(Error::BadProof)?;
    if total > MAX_PROOF_BYTES {
        return Err(Error::BadProof);
    }
    let nodes: Vec<Vec<u8>> = proof.iter().map(|n| n.to_vec()).collect();
    phala_trie::verify_proof(root, &nodes, keys).map_err(|_| Error::BadProof)
}

/// The values under `keys` in the counterparty's state at `height`, as the client's
/// consensus state there and `proof` show them. The client must be active.
pub(super) fn proven(
    ext: &Ext,
    id: ClientId,
    height: BlockNumber,
    proof: &Proof,
    keys: &[&[u8]],
) -> Result<Vec<Option<Vec<u8>>>, Error> {
    active_client(ext, id)?;
    let consensus = CONSENSUS_STATES
        .get(ext, &id, &height)
        .ok_or(Error::UnknownHeight)?;
    verify(&consensus.state_root, proof, keys)
}

/// Checks that the counterparty stored exactly `expected` under `key` at `height`.
pub(super) fn prove_value(
    ext: &Ext,
    id: ClientId,
    height: BlockNumber,
    proof: &Proof,
    key: &[u8],
    expected: &[u8],
) -> Result<(), Error> {
    let value = proven(ext, id, height, proof, &[key])?
        .into_iter()
        .next()
        .flatten();
    if value.as_deref() != Some(expected) {
        return Err(Error::ProofMismatch);
    }
    Ok(())
}
