//! PHA and bridged assets across channels, in ICS-20's escrow/voucher model.
//!
//! An asset leaving over a channel it did not arrive by is locked in that channel's escrow
//! (PHA in the escrow account's balance, a voucher in its holding); the receiver mints a
//! voucher whose trace is the sender's with the receiving channel prepended. An asset
//! leaving over the channel it arrived by is going home: its voucher is burned here and the
//! home chain unlocks it from that channel's escrow. Per channel and asset the escrow only
//! ever holds what was locked over that channel, so a counterparty that lies can take at
//! most what its own channel holds.

use parity_scale_codec::Encode;
use phala_primitives::{AccountId32, H256, hashing::blake2_256};

use super::channel;
use super::{
    ASSET_BALANCES, ASSETS, Ack, AssetInfo, ChannelId, Denom, ESCROWED, Error, Event,
    MAX_ACK_BYTES, Packet, PacketData, Sequence, Timeout, TransferData,
};
use crate::Ext;
use crate::bounded::{BoundedBytes, BoundedVec};
use crate::modules::{TREASURY_ACCOUNT, balances};

/// The escrow's `PalletId`: channel `c`'s escrow account is `modl ‖ this ‖ c (LE) ‖ 0…`,
/// Substrate's sub-account of a pallet.
pub const ESCROW_PALLET_ID: [u8; 8] = *b"phbr/esc";

/// PHA itself, as a trace.
pub fn native_denom() -> Denom {
    Denom {
        path: BoundedVec::default(),
        base: BoundedBytes::new(b"PHA".to_vec()).unwrap_or_default(),
    }
}

fn is_native(denom: &Denom) -> bool {
    *denom == native_denom()
}

/// An asset's id: the hash of its trace (PHA's is the hash of the empty-path trace).
pub fn asset_id(denom: &Denom) -> H256 {
    let mut data = b"phala/bridge/asset".to_vec();
    data.extend_from_slice(&denom.encode());
    H256(blake2_256(&data))
}

/// The account that holds what is locked over `channel`, as Substrate derives a
/// sub-account of a `PalletId` (like `stake_pools::pool_account`).
pub fn escrow_account(channel: ChannelId) -> AccountId32 {
    let mut bytes = [0u8; 32];
    bytes[..4].copy_from_slice(b"modl");
    bytes[4..12].copy_from_slice(&ESCROW_PALLET_ID);
    bytes[12..16].copy_from_slice(&channel.to_le_bytes());
    AccountId32(bytes)
}

/// Whether `who` is a channel's escrow account: value sent to it would leave the books.
fn is_escrow(who: &AccountId32) -> bool {
    who.0.starts_with(b"modl") && who.0.get(4..12) == Some(&ESCROW_PALLET_ID[..])
}

/// `who`'s holding of bridged asset `asset`.
pub fn asset_balance(ext: &Ext, asset: &H256, who: &AccountId32) -> u128 {
    ASSET_BALANCES.get_or_default(ext, asset, who)
}

fn move_asset(
    ext: &mut Ext,
    asset: &H256,
    from: &AccountId32,
    to: &AccountId32,
    amount: u128,
) -> Result<(), Error> {
    let from_balance = asset_balance(ext, asset, from)
        .checked_sub(amount)
        .ok_or(Error::InsufficientBalance)?;
    if from == to {
        return Ok(());
    }
    let to_balance = asset_balance(ext, asset, to)
        .checked_add(amount)
        .ok_or(Error::Overflow)?;
    set_balance(ext, asset, from, from_balance);
    set_balance(ext, asset, to, to_balance);
    Ok(())
}

fn set_balance(ext: &mut Ext, asset: &H256, who: &AccountId32, amount: u128) {
    if amount == 0 {
        ASSET_BALANCES.remove(ext, asset, who);
    } else {
        ASSET_BALANCES.insert(ext, asset, who, &amount);
    }
}

fn mint(ext: &mut Ext, denom: &Denom, to: &AccountId32, amount: u128) -> Result<H256, Error> {
    let id = asset_id(denom);
    let mut info = ASSETS.get(ext, &id).unwrap_or(AssetInfo {
        denom: denom.clone(),
        supply: 0,
    });
    info.supply = info.supply.checked_add(amount).ok_or(Error::Overflow)?;
    let balance = asset_balance(ext, &id, to)
        .checked_add(amount)
        .ok_or(Error::Overflow)?;
    set_balance(ext, &id, to, balance);
    ASSETS.insert(ext, &id, &info);
    Ok(id)
}

fn burn(ext: &mut Ext, id: &H256, from: &AccountId32, amount: u128) -> Result<(), Error> {
    let mut info = ASSETS.get(ext, id).ok_or(Error::UnknownAsset)?;
    let balance = asset_balance(ext, id, from)
        .checked_sub(amount)
        .ok_or(Error::InsufficientBalance)?;
    info.supply = info.supply.checked_sub(amount).ok_or(Error::Overflow)?;
    set_balance(ext, id, from, balance);
    ASSETS.insert(ext, id, &info);
    Ok(())
}

/// Locks `amount` of `denom` from `from` in `channel`'s escrow.
fn lock(
    ext: &mut Ext,
    channel: ChannelId,
    denom: &Denom,
    from: &AccountId32,
    amount: u128,
) -> Result<(), Error> {
    let id = asset_id(denom);
    let escrow = escrow_account(channel);
    if is_native(denom) {
        balances::transfer(ext, from, &escrow, amount, true)
            .map_err(|_| Error::InsufficientBalance)?;
    } else {
        move_asset(ext, &id, from, &escrow, amount)?;
    }
    let total = ESCROWED
        .get_or_default(ext, &channel, &id)
        .checked_add(amount)
        .ok_or(Error::Overflow)?;
    ESCROWED.insert(ext, &channel, &id, &total);
    Ok(())
}

/// Unlocks `amount` of `denom` from `channel`'s escrow to `to`, never more than was locked
/// over that channel.
fn unlock(
    ext: &mut Ext,
    channel: ChannelId,
    denom: &Denom,
    to: &AccountId32,
    amount: u128,
) -> Result<(), Error> {
    let id = asset_id(denom);
    let left = ESCROWED
        .get_or_default(ext, &channel, &id)
        .checked_sub(amount)
        .ok_or(Error::EscrowShort)?;
    let escrow = escrow_account(channel);
    if is_native(denom) {
        // The escrow keeps its seed: this never reaps it.
        balances::transfer(ext, &escrow, to, amount, true).map_err(|_| Error::CannotReceive)?;
    } else {
        move_asset(ext, &id, &escrow, to, amount)?;
    }
    if left == 0 {
        ESCROWED.remove(ext, &channel, &id);
    } else {
        ESCROWED.insert(ext, &channel, &id, &left);
    }
    Ok(())
}

/// Whether an asset with this trace goes home over `channel` (it arrived by it).
fn returns_over(denom: &Denom, channel: ChannelId) -> bool {
    denom.path.first() == Some(&channel)
}

/// The trace without its first hop.
fn strip_first(denom: &Denom) -> Denom {
    Denom {
        path: BoundedVec::new(denom.path.iter().skip(1).copied().collect()).unwrap_or_default(),
        base: denom.base.clone(),
    }
}

/// Sends `amount` of PHA (`asset` `None`) or of a bridged asset to `receiver` on the other
/// side of `channel`.
pub(super) fn send(
    ext: &mut Ext,
    sender: AccountId32,
    channel: ChannelId,
    asset: Option<H256>,
    receiver: AccountId32,
    amount: u128,
    timeout: Timeout,
) -> Result<Sequence, Error> {
    if amount == 0 {
        return Err(Error::ZeroAmount);
    }
    let denom = match asset {
        None => native_denom(),
        Some(id) => ASSETS.get(ext, &id).ok_or(Error::UnknownAsset)?.denom,
    };
    let id = asset_id(&denom);
    let data = PacketData::Transfer(TransferData {
        denom: denom.clone(),
        amount,
        sender,
        receiver,
    });
    let sequence = channel::send(ext, channel, timeout, data)?;
    if returns_over(&denom, channel) {
        burn(ext, &id, &sender, amount)?;
    } else {
        lock(ext, channel, &denom, &sender, amount)?;
    }
    ext.deposit_event(Event::TransferSent {
        channel,
        sequence,
        asset: id,
        amount,
        sender,
        receiver,
    });
    Ok(sequence)
}

/// The receiving side of a transfer: unlock an asset coming home, or mint its voucher.
/// Runs inside a storage transaction: an error discards everything it did.
pub(super) fn on_recv(
    ext: &mut Ext,
    packet: &Packet,
    data: &TransferData,
) -> Result<BoundedBytes<MAX_ACK_BYTES>, Error> {
    if data.amount == 0 {
        return Err(Error::ZeroAmount);
    }
    // The counterparty names the asset: a name that could pass for another trace when
    // shown (a '/' or a control character) is refused.
    let base_ok = !data.denom.base.is_empty()
        && data
            .denom
            .base
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    if !base_ok {
        return Err(Error::BadDenom);
    }
    if is_escrow(&data.receiver) {
        return Err(Error::BadReceiver);
    }
    let asset = if returns_over(&data.denom, packet.source_channel) {
        let home = strip_first(&data.denom);
        unlock(ext, packet.dest_channel, &home, &data.receiver, data.amount)?;
        asset_id(&home)
    } else {
        let mut path = vec![packet.dest_channel];
        path.extend(data.denom.path.iter().copied());
        let denom = Denom {
            path: BoundedVec::new(path).ok_or(Error::TraceTooLong)?,
            base: data.denom.base.clone(),
        };
        mint(ext, &denom, &data.receiver, data.amount)?
    };
    ext.deposit_event(Event::TransferReceived {
        channel: packet.dest_channel,
        sequence: packet.sequence,
        asset,
        amount: data.amount,
        receiver: data.receiver,
    });
    Ok(BoundedBytes::new(vec![1]).unwrap_or_default())
}

/// The sending side's answer to an acknowledgement: nothing on success; on an error or a
/// timeout the sender gets back what it sent (re-minted if it was burned going home,
/// unlocked otherwise). The packet is verified to be the one sent, so its sender is ours.
pub(super) fn on_ack(
    ext: &mut Ext,
    packet: &Packet,
    data: &TransferData,
    ack: &Ack,
) -> Result<(), Error> {
    if ack.is_success() {
        return Ok(());
    }
    let refund = |ext: &mut Ext, to: &AccountId32| -> Result<(), Error> {
        if returns_over(&data.denom, packet.source_channel) {
            mint(ext, &data.denom, to, data.amount).map(|_| ())
        } else {
            unlock(ext, packet.source_channel, &data.denom, to, data.amount)
        }
    };
    // A sender that has since been reaped cannot take less than the existential deposit;
    // the refund then goes to the treasury rather than stop every later acknowledgement.
    let to = if ext.transactional(|ext| refund(ext, &data.sender)).is_ok() {
        data.sender
    } else {
        refund(ext, &TREASURY_ACCOUNT)?;
        TREASURY_ACCOUNT
    };
    ext.deposit_event(Event::TransferRefunded {
        channel: packet.source_channel,
        sequence: packet.sequence,
        asset: asset_id(&data.denom),
        amount: data.amount,
        sender: to,
    });
    Ok(())
}

/// Moves a bridged asset between accounts here.
pub(super) fn transfer_asset(
    ext: &mut Ext,
    from: AccountId32,
    asset: H256,
    to: AccountId32,
    amount: u128,
) -> Result<(), Error> {
    if amount == 0 {
        return Err(Error::ZeroAmount);
    }
    if !ASSETS.contains(ext, &asset) {
        return Err(Error::UnknownAsset);
    }
    move_asset(ext, &asset, &from, &to, amount)?;
    ext.deposit_event(Event::AssetTransferred {
        asset,
        from,
        to,
        amount,
    });
    Ok(())
}
