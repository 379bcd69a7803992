# pragma version ~=0.4.3
# pragma optimize gas
"""
@title Bauhinia StableCoin
@license UNLICENSED
@notice A fiat-referenced stablecoin of a Hong Kong-licensed issuer: one deployment per currency (CNH, HKD),
        6 decimals. ERC-20 with EIP-2612 permit and EIP-3009 transfer authorisations; separate role keys
        (owner with two-step transfer, master minter, minters with allowances, pauser, blacklister, rescuer,
        reserve attestor); minting is guarded by the last attested reserve and its age.
@dev Upgrade path: versioned deployments (see contracts/README.md). The code is immutable; a successor is
     announced on chain with `retire`, which only works while paused and is final.
"""

from ethereum.ercs import IERC20

implements: IERC20

# ---------------------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------------------

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

event OwnershipTransferStarted:
    previous_owner: indexed(address)
    new_owner: indexed(address)

event OwnershipTransferred:
    previous_owner: indexed(address)
    new_owner: indexed(address)

event RoleChanged:
    role: indexed(bytes32)
    account: indexed(address)

event MinterConfigured:
    minter: indexed(address)
    allowance: uint256

event MinterRemoved:
    minter: indexed(address)

event Mint:
    minter: indexed(address)
    receiver: indexed(address)
    value: uint256

event BatchMint:
    minter: indexed(address)
    credits: uint256
    total: uint256

event Burn:
    burner: indexed(address)
    value: uint256

event Paused:
    account: address

event Unpaused:
    account: address

event Frozen:
    account: indexed(address)

event Unfrozen:
    account: indexed(address)

event FrozenBalanceWiped:
    account: indexed(address)
    value: uint256
    order_reference: bytes32

event TokensRescued:
    token: indexed(address)
    receiver: indexed(address)
    value: uint256

event ReserveAttested:
    reserve_base_units: uint256
    attested_at: uint256
    report_hash: bytes32

event ReserveMaxAgeChanged:
    max_age_s: uint256

event CoinConfigChanged:
    licence_number: String[64]
    approval_reference: String[64]

event AuthorizationUsed:
    authorizer: indexed(address)
    nonce: indexed(bytes32)

event AuthorizationCanceled:
    authorizer: indexed(address)
    nonce: indexed(bytes32)

event Retired:
    successor: indexed(address)

# ---------------------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------------------

decimals: public(constant(uint8)) = 6
# EIP-712 domain version; the deployment version numbers successive deployments of one coin.
version: public(constant(String[8])) = "1"
DEPLOYMENT_VERSION: public(constant(uint256)) = 1
BATCH_SIZE_MAX: public(constant(uint256)) = 512
FREEZE_BATCH_SIZE_MAX: constant(uint256) = 256
ADDRESS_MASK: constant(uint256) = 2**160 - 1

ROLE_MASTER_MINTER: constant(bytes32) = keccak256("MASTER_MINTER")
ROLE_PAUSER: constant(bytes32) = keccak256("PAUSER")
ROLE_BLACKLISTER: constant(bytes32) = keccak256("BLACKLISTER")
ROLE_RESCUER: constant(bytes32) = keccak256("RESCUER")
ROLE_RESERVE_ATTESTOR: constant(bytes32) = keccak256("RESERVE_ATTESTOR")

EIP712_DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
PERMIT_TYPEHASH: public(constant(bytes32)) = keccak256(
    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
)
TRANSFER_WITH_AUTHORIZATION_TYPEHASH: public(constant(bytes32)) = keccak256(
    "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
)
RECEIVE_WITH_AUTHORIZATION_TYPEHASH: public(constant(bytes32)) = keccak256(
    "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
)
CANCEL_AUTHORIZATION_TYPEHASH: public(constant(bytes32)) = keccak256(
    "CancelAuthorization(address authorizer,bytes32 nonce)"
)
# secp256k1 n / 2: signatures with a higher s are malleable and refused.
S_MAX: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168

# ---------------------------------------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------------------------------------

name: public(String[64])
symbol: public(String[32])
currency: public(String[8])
licence_number: public(String[64])
approval_reference: public(String[64])

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)

owner: public(address)
pending_owner: public(address)
master_minter: public(address)
pauser: public(address)
blacklister: public(address)
rescuer: public(address)
reserve_attestor: public(address)

isMinter: public(HashMap[address, bool])
minterAllowance: public(HashMap[address, uint256])

paused: public(bool)
isFrozen: public(HashMap[address, bool])

attested_reserve: public(uint256)
attested_at: public(uint256)
reserve_max_age_s: public(uint256)

nonces: public(HashMap[address, uint256])
authorizationState: public(HashMap[address, HashMap[bytes32, bool]])

successor: public(address)


@deploy
def __init__(
    name_: String[64],
    symbol_: String[32],
    currency_: String[8],
    licence_number_: String[64],
    approval_reference_: String[64],
    reserve_max_age_s_: uint256,
):
    assert reserve_max_age_s_ > 0, "max age is zero"
    self.name = name_
    self.symbol = symbol_
    self.currency = currency_
    self.licence_number = licence_number_
    self.approval_reference = approval_reference_
    self.reserve_max_age_s = reserve_max_age_s_
    self.owner = msg.sender
    log OwnershipTransferred(previous_owner=empty(address), new_owner=msg.sender)
    log CoinConfigChanged(licence_number=licence_number_, approval_reference=approval_reference_)
    log ReserveMaxAgeChanged(max_age_s=reserve_max_age_s_)


# ---------------------------------------------------------------------------------------------------------
# Guards
# ---------------------------------------------------------------------------------------------------------

@internal
@view
def _not_paused():
    assert not self.paused, "paused"


@internal
@view
def _not_frozen(account: address):
    assert not self.isFrozen[account], "frozen"


@internal
@view
def _only_owner():
    assert msg.sender == self.owner, "not owner"


# ---------------------------------------------------------------------------------------------------------
# ERC-20
# ---------------------------------------------------------------------------------------------------------

@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    assert receiver != empty(address), "zero address"
    self._not_frozen(sender)
    self._not_frozen(receiver)
    balance: uint256 = self.balanceOf[sender]
    assert balance >= amount, "balance too low"
    self.balanceOf[sender] = balance - amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=sender, receiver=receiver, value=amount)


@internal
def _approve(owner_: address, spender: address, amount: uint256):
    assert spender != empty(address), "zero address"
    self._not_frozen(owner_)
    self._not_frozen(spender)
    self.allowance[owner_][spender] = amount
    log Approval(owner=owner_, spender=spender, value=amount)


@external
def transfer(receiver: address, amount: uint256) -> bool:
    self._not_paused()
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    self._not_paused()
    self._not_frozen(msg.sender)
    allowed: uint256 = self.allowance[sender][msg.sender]
    assert allowed >= amount, "allowance too low"
    if allowed != max_value(uint256):
        self.allowance[sender][msg.sender] = allowed - amount
    self._transfer(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    self._not_paused()
    self._approve(msg.sender, spender, amount)
    return True


# ---------------------------------------------------------------------------------------------------------
# EIP-712, EIP-2612 permit, EIP-3009 authorisations
# ---------------------------------------------------------------------------------------------------------

@internal
@view
def _domain_separator() -> bytes32:
    # Computed on every call so that the chain id is read live (a fork gets a different domain).
    return keccak256(
        abi_encode(
            EIP712_DOMAIN_TYPEHASH,
            keccak256(convert(self.name, Bytes[64])),
            keccak256(version),
            chain.id,
            self,
        )
    )


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    return self._domain_separator()


@internal
@view
def _recover(struct_hash: bytes32, v: uint8, r: bytes32, s: bytes32) -> address:
    assert convert(s, uint256) <= S_MAX, "invalid signature"
    assert v == 27 or v == 28, "invalid signature"
    digest: bytes32 = keccak256(concat(b"\x19\x01", self._domain_separator(), struct_hash))
    signer: address = ecrecover(digest, v, r, s)
    assert signer != empty(address), "invalid signature"
    return signer


@external
def permit(
    owner_: address, spender: address, amount: uint256, deadline: uint256, v: uint8, r: bytes32, s: bytes32
):
    self._not_paused()
    assert deadline >= block.timestamp, "permit expired"
    nonce: uint256 = self.nonces[owner_]
    struct_hash: bytes32 = keccak256(abi_encode(PERMIT_TYPEHASH, owner_, spender, amount, nonce, deadline))
    assert self._recover(struct_hash, v, r, s) == owner_, "invalid signature"
    self.nonces[owner_] = nonce + 1
    self._approve(owner_, spender, amount)


@internal
def _use_authorization(
    typehash: bytes32,
    sender: address,
    receiver: address,
    amount: uint256,
    valid_after: uint256,
    valid_before: uint256,
    nonce: bytes32,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    self._not_paused()
    self._not_frozen(msg.sender)
    assert block.timestamp > valid_after, "authorization not yet valid"
    assert block.timestamp < valid_before, "authorization expired"
    assert not self.authorizationState[sender][nonce], "authorization used or canceled"
    struct_hash: bytes32 = keccak256(
        abi_encode(typehash, sender, receiver, amount, valid_after, valid_before, nonce)
    )
    assert self._recover(struct_hash, v, r, s) == sender, "invalid signature"
    self.authorizationState[sender][nonce] = True
    log AuthorizationUsed(authorizer=sender, nonce=nonce)
    self._transfer(sender, receiver, amount)


@external
def transferWithAuthorization(
    sender: address,
    receiver: address,
    amount: uint256,
    valid_after: uint256,
    valid_before: uint256,
    nonce: bytes32,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    self._use_authorization(
        TRANSFER_WITH_AUTHORIZATION_TYPEHASH, sender, receiver, amount, valid_after, valid_before, nonce, v, r, s
    )


@external
def receiveWithAuthorization(
    sender: address,
    receiver: address,
    amount: uint256,
    valid_after: uint256,
    valid_before: uint256,
    nonce: bytes32,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    # Only the payee may submit it, so a front-runner cannot take the authorisation out of a wrapping call.
    assert msg.sender == receiver, "caller must be the payee"
    self._use_authorization(
        RECEIVE_WITH_AUTHORIZATION_TYPEHASH, sender, receiver, amount, valid_after, valid_before, nonce, v, r, s
    )


@external
def cancelAuthorization(authorizer: address, nonce: bytes32, v: uint8, r: bytes32, s: bytes32):
    self._not_paused()
    self._not_frozen(msg.sender)
    self._not_frozen(authorizer)
    assert not self.authorizationState[authorizer][nonce], "authorization used or canceled"
    struct_hash: bytes32 = keccak256(abi_encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce))
    assert self._recover(struct_hash, v, r, s) == authorizer, "invalid signature"
    self.authorizationState[authorizer][nonce] = True
    log AuthorizationCanceled(authorizer=authorizer, nonce=nonce)


# ---------------------------------------------------------------------------------------------------------
# Minting and burning, guarded by the attested reserve
# ---------------------------------------------------------------------------------------------------------

@internal
@view
def _reserve_is_fresh() -> bool:
    at: uint256 = self.attested_at
    return at != 0 and block.timestamp <= at + self.reserve_max_age_s


@internal
def _before_mint(total: uint256):
    self._not_paused()
    assert self.isMinter[msg.sender], "not minter"
    self._not_frozen(msg.sender)
    assert total > 0, "zero amount"
    allowance_left: uint256 = self.minterAllowance[msg.sender]
    assert total <= allowance_left, "minter allowance exceeded"
    assert self._reserve_is_fresh(), "reserve attestation stale"
    supply_after: uint256 = self.totalSupply + total
    assert supply_after <= self.attested_reserve, "reserve exceeded"
    self.minterAllowance[msg.sender] = allowance_left - total
    self.totalSupply = supply_after


@external
def mint(receiver: address, amount: uint256) -> bool:
    assert receiver != empty(address), "zero address"
    self._not_frozen(receiver)
    self._before_mint(amount)
    self.balanceOf[receiver] += amount
    log Mint(minter=msg.sender, receiver=receiver, value=amount)
    log Transfer(sender=empty(address), receiver=receiver, value=amount)
    return True


@external
def batchMint(credits: DynArray[uint256, BATCH_SIZE_MAX]) -> bool:
    """
    @notice Mint to many receivers in one transaction. Each credit packs one receiver and its amount in a
            word: `amount << 160 | receiver` (amount below 2**96 base units). One array of words halves the
            calldata and the decoding work of two parallel arrays.
    """
    count: uint256 = len(credits)
    assert count > 0, "empty batch"
    total: uint256 = 0
    for credit: uint256 in credits:
        receiver: address = convert(convert(credit & ADDRESS_MASK, uint160), address)
        amount: uint256 = credit >> 160
        assert receiver != empty(address), "zero address"
        assert amount > 0, "zero amount"
        assert not self.isFrozen[receiver], "frozen"
        total = unsafe_add(total, amount)  # count * 2**96 cannot overflow
        self.balanceOf[receiver] = unsafe_add(self.balanceOf[receiver], amount)  # bounded by totalSupply
        log Transfer(sender=empty(address), receiver=receiver, value=amount)
    # Checked after the loop: every guard still applies to the whole batch, the transaction reverts as one.
    # totalSupply + total is checked for overflow there, and every balance is at most the total supply.
    self._before_mint(total)
    log BatchMint(minter=msg.sender, credits=count, total=total)
    return True


@external
def burn(amount: uint256):
    """@notice A minter burns coins it holds (redemptions are paid into a minter's address first)."""
    self._not_paused()
    assert self.isMinter[msg.sender], "not minter"
    self._not_frozen(msg.sender)
    assert amount > 0, "zero amount"
    balance: uint256 = self.balanceOf[msg.sender]
    assert balance >= amount, "balance too low"
    self.balanceOf[msg.sender] = balance - amount
    self.totalSupply -= amount
    log Burn(burner=msg.sender, value=amount)
    log Transfer(sender=msg.sender, receiver=empty(address), value=amount)


@external
def attestReserve(reserve_base_units: uint256, attested_at_: uint256, report_hash: bytes32):
    """
    @notice Post the attested reserve, in token base units (6 decimals), as of `attested_at_` (Unix seconds).
    """
    assert msg.sender == self.reserve_attestor, "not reserve attestor"
    assert attested_at_ <= block.timestamp, "attestation in the future"
    assert attested_at_ >= self.attested_at, "attestation older than current"
    self.attested_reserve = reserve_base_units
    self.attested_at = attested_at_
    log ReserveAttested(reserve_base_units=reserve_base_units, attested_at=attested_at_, report_hash=report_hash)


@external
@view
def reserveIsFresh() -> bool:
    return self._reserve_is_fresh()


@external
@view
def mintHeadroom() -> uint256:
    """@notice Base units that may still be minted under the current attestation (0 when stale)."""
    if not self._reserve_is_fresh() or self.attested_reserve <= self.totalSupply:
        return 0
    return self.attested_reserve - self.totalSupply


# ---------------------------------------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------------------------------------

@external
def transferOwnership(new_owner: address):
    self._only_owner()
    assert new_owner != empty(address), "zero address"
    self.pending_owner = new_owner
    log OwnershipTransferStarted(previous_owner=self.owner, new_owner=new_owner)


@external
def acceptOwnership():
    assert msg.sender == self.pending_owner, "not pending owner"
    previous: address = self.owner
    self.owner = msg.sender
    self.pending_owner = empty(address)
    log OwnershipTransferred(previous_owner=previous, new_owner=msg.sender)


@external
def updateMasterMinter(account: address):
    self._only_owner()
    assert account != empty(address), "zero address"
    self.master_minter = account
    log RoleChanged(role=ROLE_MASTER_MINTER, account=account)


@external
def updatePauser(account: address):
    self._only_owner()
    assert account != empty(address), "zero address"
    self.pauser = account
    log RoleChanged(role=ROLE_PAUSER, account=account)


@external
def updateBlacklister(account: address):
    self._only_owner()
    assert account != empty(address), "zero address"
    self.blacklister = account
    log RoleChanged(role=ROLE_BLACKLISTER, account=account)


@external
def updateRescuer(account: address):
    self._only_owner()
    assert account != empty(address), "zero address"
    self.rescuer = account
    log RoleChanged(role=ROLE_RESCUER, account=account)


@external
def updateReserveAttestor(account: address):
    self._only_owner()
    assert account != empty(address), "zero address"
    self.reserve_attestor = account
    log RoleChanged(role=ROLE_RESERVE_ATTESTOR, account=account)


@external
def setReserveMaxAge(max_age_s: uint256):
    self._only_owner()
    assert max_age_s > 0, "max age is zero"
    self.reserve_max_age_s = max_age_s
    log ReserveMaxAgeChanged(max_age_s=max_age_s)


@external
def setCoinConfig(licence_number_: String[64], approval_reference_: String[64]):
    self._only_owner()
    self.licence_number = licence_number_
    self.approval_reference = approval_reference_
    log CoinConfigChanged(licence_number=licence_number_, approval_reference=approval_reference_)


@external
def configureMinter(minter: address, minter_allowance: uint256):
    assert msg.sender == self.master_minter, "not master minter"
    assert minter != empty(address), "zero address"
    self.isMinter[minter] = True
    self.minterAllowance[minter] = minter_allowance
    log MinterConfigured(minter=minter, allowance=minter_allowance)


@external
def removeMinter(minter: address):
    assert msg.sender == self.master_minter, "not master minter"
    assert self.isMinter[minter], "not a minter"
    self.isMinter[minter] = False
    self.minterAllowance[minter] = 0
    log MinterRemoved(minter=minter)


@external
def pause():
    assert msg.sender == self.pauser, "not pauser"
    self.paused = True
    log Paused(account=msg.sender)


@external
def unpause():
    assert msg.sender == self.pauser, "not pauser"
    assert self.successor == empty(address), "retired"
    self.paused = False
    log Unpaused(account=msg.sender)


@internal
def _freeze(account: address):
    assert account != empty(address), "zero address"
    self.isFrozen[account] = True
    log Frozen(account=account)


@internal
def _unfreeze(account: address):
    self.isFrozen[account] = False
    log Unfrozen(account=account)


@external
def freeze(account: address):
    assert msg.sender == self.blacklister, "not blacklister"
    self._freeze(account)


@external
def unfreeze(account: address):
    assert msg.sender == self.blacklister, "not blacklister"
    self._unfreeze(account)


@external
def freezeMany(accounts: DynArray[address, FREEZE_BATCH_SIZE_MAX]):
    assert msg.sender == self.blacklister, "not blacklister"
    for account: address in accounts:
        self._freeze(account)


@external
def unfreezeMany(accounts: DynArray[address, FREEZE_BATCH_SIZE_MAX]):
    assert msg.sender == self.blacklister, "not blacklister"
    for account: address in accounts:
        self._unfreeze(account)


@external
def wipeFrozenBalance(account: address, order_reference: bytes32):
    """
    @notice Under a legal order, destroy the whole balance of a frozen address. The order's reference
            (e.g. a hash of the court order number) is logged. Supply falls by the wiped amount.
    """
    assert msg.sender == self.blacklister, "not blacklister"
    self._not_paused()
    assert self.isFrozen[account], "not frozen"
    assert order_reference != empty(bytes32), "order reference missing"
    amount: uint256 = self.balanceOf[account]
    assert amount > 0, "nothing to wipe"
    self.balanceOf[account] = 0
    self.totalSupply -= amount
    log FrozenBalanceWiped(account=account, value=amount, order_reference=order_reference)
    log Transfer(sender=account, receiver=empty(address), value=amount)


@external
def rescueERC20(token: IERC20, receiver: address, amount: uint256):
    """@notice Return other ERC-20 tokens sent to this contract by mistake."""
    assert msg.sender == self.rescuer, "not rescuer"
    assert receiver != empty(address), "zero address"
    assert extcall token.transfer(receiver, amount, default_return_value=True), "rescue transfer failed"
    log TokensRescued(token=token.address, receiver=receiver, value=amount)


@external
def retire(successor_: address):
    """
    @notice Versioned upgrade: name the successor deployment. Only while paused; final (unpause refuses after).
    """
    self._only_owner()
    assert self.paused, "pause first"
    assert successor_ != empty(address) and successor_ != self, "bad successor"
    assert self.successor == empty(address), "retired"
    self.successor = successor_
    log Retired(successor=successor_)
