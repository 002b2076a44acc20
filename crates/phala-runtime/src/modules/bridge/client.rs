//! On-chain light clients of counterparty chains, and the proofs checked against them.

use parity_scale_codec::{DecodeAll, Encode};
use phala_light_client::{LightClient, LightClientError, LightClientState, TranscriptRng};
use phala_primitives::{BlockNumber, Header};

use super::{
    CLIENTS, CONSENSUS_HEIGHTS, CONSENSUS_STATES, ClientId, ClientState, ClientStatus,
    ConsensusState, EpochCommittee, Error, Event, MAX_CLOCK_DRIFT_MS, MAX_PROOF_BYTES,
    NEXT_CLIENT_ID, PAST_COMMITTEES, Proof, TrustedState,
};
use crate::Ext;
use crate::modules::{system, timestamp};

/// The storage key of client `id` (what a counterparty proves to confirm a channel).
pub fn client_key(id: ClientId) -> Vec<u8> {
    CLIENTS.key(&id)
}

/// Whether the client may be used now: frozen, or expired on this chain's clock, or active.
pub fn client_status(ext: &Ext, client: &ClientState) -> ClientStatus {
    client.status_at(timestamp::now(ext))
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
    if trusted.committee.is_empty()
        || !trusted
            .committee
            .iter()
            .all(phala_light_client::is_committee_key)
        || trusting_period_ms == 0
        || trusted.epoch_first >= trusted.epoch_last
        || own_genesis == Some(trusted.genesis_hash)
    {
        return Err(Error::BadTrustedState);
    }
    let header = decode_header(&trusted.header)?;
    // The header must be in the epoch, short of its last block: the client would otherwise
    // need that block's announcement of the next committee, which it has not verified.
    if header.number < trusted.epoch_first || header.number >= trusted.epoch_last {
        return Err(Error::BadTrustedState);
    }
    let mut client = ClientState {
        genesis_hash: trusted.genesis_hash,
        epoch: trusted.epoch,
        epoch_first: trusted.epoch_first,
        epoch_last: trusted.epoch_last,
        committee: trusted.committee,
        // Below the header, so the header is verified as the client's first step.
        latest_height: trusted.epoch_first.saturating_sub(1),
        latest_hash: phala_primitives::H256::zero(),
        latest_timestamp: 0,
        trusting_period_ms,
        status: ClientStatus::Active,
    };
    let mut light = light_client(&client)?;
    light
        .import_header(
            &mut rng(&client, &header, &trusted.certificate),
            &header,
            &trusted.certificate,
        )
        .map_err(|_| Error::BadHeader)?;
    let time = proven_timestamp(&header, &trusted.timestamp_proof)?;
    check_time(ext, time)?;
    // A client already expired (a referendum that took longer than its trusting period)
    // could never be updated.
    if time.saturating_add(trusting_period_ms) <= timestamp::now(ext) {
        return Err(Error::ClientExpired);
    }
    let id = NEXT_CLIENT_ID.get_or_default(ext);
    let next = id.checked_add(1).ok_or(Error::Overflow)?;
    NEXT_CLIENT_ID.put(ext, &next);
    accept(ext, id, &mut client, &header, time);
    ext.deposit_event(Event::ClientCreated {
        client: id,
        genesis_hash: client.genesis_hash,
        height: client.latest_height,
    });
    CLIENTS.insert(ext, &id, &client);
    Ok(id)
}

/// A counterparty time more than the allowed drift ahead of this chain's clock is refused.
fn check_time(ext: &Ext, time: u64) -> Result<(), Error> {
    if time > timestamp::now(ext).saturating_add(MAX_CLOCK_DRIFT_MS) {
        return Err(Error::BadTimestamp);
    }
    Ok(())
}

/// The light client of the epoch that holds `height`: the current one, or one of the few
/// past epochs whose committees the client keeps.
fn light_client_at(
    ext: &Ext,
    id: ClientId,
    client: &ClientState,
    height: BlockNumber,
) -> Result<LightClient, Error> {
    if client.epoch_first <= height && height <= client.epoch_last {
        return light_client(client);
    }
    let past = PAST_COMMITTEES.get_or_default(ext, &id);
    let epoch = past
        .iter()
        .find(|e| e.first <= height && height <= e.last)
        .ok_or(Error::BadHeader)?;
    light_client(&ClientState {
        epoch: epoch.epoch,
        epoch_first: epoch.first,
        epoch_last: epoch.last,
        committee: epoch.committee.clone(),
        latest_height: epoch.first.saturating_sub(1),
        ..client.clone()
    })
}

/// Governance replaces a frozen or expired client's state with that of `substitute`, a
/// fresh client of the same chain: the channels on the old id go on with the new state.
pub(super) fn recover(ext: &mut Ext, id: ClientId, substitute: ClientId) -> Result<(), Error> {
    let old = CLIENTS.get(ext, &id).ok_or(Error::UnknownClient)?;
    if client_status(ext, &old) == ClientStatus::Active {
        return Err(Error::ClientActive);
    }
    let new = active_client(ext, substitute).map_err(|_| Error::BadSubstitute)?;
    // A frozen client's head may be a forger's, set as high as they liked: the substitute
    // need only be past the height where the committee was caught.
    let floor = match old.status {
        ClientStatus::Frozen { height } => height.min(old.latest_height),
        _ => old.latest_height,
    };
    if id == substitute || new.genesis_hash != old.genesis_hash || new.latest_height <= floor {
        return Err(Error::BadSubstitute);
    }
    for height in CONSENSUS_HEIGHTS.get_or_default(ext, &id).iter() {
        CONSENSUS_STATES.remove(ext, &id, height);
    }
    let heights = CONSENSUS_HEIGHTS.get_or_default(ext, &substitute);
    for height in heights.iter() {
        if let Some(state) = CONSENSUS_STATES.get(ext, &substitute, height) {
            CONSENSUS_STATES.insert(ext, &id, height, &state);
        }
    }
    CONSENSUS_HEIGHTS.insert(ext, &id, &heights);
    PAST_COMMITTEES.insert(ext, &id, &PAST_COMMITTEES.get_or_default(ext, &substitute));
    CLIENTS.insert(ext, &id, &new);
    ext.deposit_event(Event::ClientRecovered {
        client: id,
        substitute,
        height: new.latest_height,
    });
    Ok(())
}

/// Makes a verified header the client's head and keeps what proofs are checked against.
fn accept(ext: &mut Ext, id: ClientId, client: &mut ClientState, header: &Header, time: u64) {
    let hash = header.hash();
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
        light_client_at(ext, id, &client, header.number)?
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
    check_time(ext, time)?;
    let state = light.state();
    if state.epoch != client.epoch {
        // The epoch just ended: keep its committee, to judge a conflicting header at one of
        // its heights later.
        let mut past = PAST_COMMITTEES.get_or_default(ext, &id);
        if past.is_full() {
            past.as_mut_vec().remove(0);
        }
        let _ = past.try_push(EpochCommittee {
            epoch: client.epoch,
            first: client.epoch_first,
            last: client.epoch_last,
            committee: client.committee.clone(),
        });
        PAST_COMMITTEES.insert(ext, &id, &past);
    }
    client.epoch = state.epoch;
    client.epoch_first = state.epoch_first;
    client.epoch_last = state.epoch_last;
    client.committee = crate::bounded::BoundedVec::new(state.committee).ok_or(Error::BadHeader)?;
    accept(ext, id, &mut client, header, time);
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
    if a.0.number != b.0.number || a.0.hash() == b.0.hash() {
        return Err(Error::NotMisbehaviour);
    }
    let light = light_client_at(ext, id, &client, a.0.number)?;
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
