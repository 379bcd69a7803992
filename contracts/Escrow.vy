# pragma version ~=0.4.3
# pragma optimize gas
"""
@title Bauhinia trade escrow
@license UNLICENSED
@notice Payment against documents for one coin. The importer locks coins against an invoice id together with
        the hash of the shipping documents (bill of lading, packing list) agreed for that invoice. The coins go
        to the exporter when the importer, or the agent the importer appointed, accepts the documents by
        presenting that same hash before the expiry; after the expiry they go back to the importer.
        Either party may open a dispute while the coins are locked (when an agent is appointed): from then on
        only the agent decides, by releasing (with the matching document hash) or refunding.
@dev No owner, no admin key, no upgrade: the token's own guards (pause, frozen addresses) apply to every
     movement, so a frozen exporter cannot be paid and a paused coin stops the escrow.
     Funding: `lock` (after an ERC-20 approval), `lockWithPermit` (EIP-2612, submitted by the importer) or
     `lockWithAuthorization` (EIP-3009 receiveWithAuthorization, submitted by anyone: the authorisation's
     nonce must equal `termsHash(...)`, so the importer's signature also fixes the exporter, the agent, the
     document hash and the expiry, and a relayer cannot redirect the coins).
"""

interface Coin:
    def transfer(receiver: address, amount: uint256) -> bool: nonpayable
    def transferFrom(sender: address, receiver: address, amount: uint256) -> bool: nonpayable
    def allowance(owner_: address, spender: address) -> uint256: view
    def isFrozen(account: address) -> bool: view
    def permit(
        owner_: address, spender: address, amount: uint256, deadline: uint256, v: uint8, r: bytes32, s: bytes32
    ): nonpayable
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
    ): nonpayable


event Locked:
    invoice_id: indexed(bytes32)
    importer: indexed(address)
    exporter: indexed(address)
    agent: address
    amount: uint256
    documents_hash: bytes32
    expiry: uint256
    funding: uint8  # 1 approval, 2 permit, 3 authorisation

event Released:
    invoice_id: indexed(bytes32)
    exporter: indexed(address)
    accepted_by: indexed(address)
    amount: uint256
    documents_hash: bytes32

event Refunded:
    invoice_id: indexed(bytes32)
    importer: indexed(address)
    refunded_by: indexed(address)
    amount: uint256

event Disputed:
    invoice_id: indexed(bytes32)
    disputed_by: indexed(address)


struct Deal:
    importer: address
    exporter: address
    agent: address
    amount: uint256
    documents_hash: bytes32
    expiry: uint256
    state: uint8


STATE_NONE: constant(uint8) = 0
STATE_LOCKED: constant(uint8) = 1
STATE_RELEASED: constant(uint8) = 2
STATE_REFUNDED: constant(uint8) = 3
STATE_DISPUTED: constant(uint8) = 4

FUNDING_APPROVAL: constant(uint8) = 1
FUNDING_PERMIT: constant(uint8) = 2
FUNDING_AUTHORIZATION: constant(uint8) = 3

# Longest escrow accepted: two years.
EXPIRY_MAX_S: public(constant(uint256)) = 2 * 366 * 24 * 3600

TOKEN: public(immutable(address))

deals: public(HashMap[bytes32, Deal])
locked_total: public(uint256)


@deploy
def __init__(token: address):
    assert token != empty(address), "zero address"
    TOKEN = token


@internal
@pure
def _terms_hash(
    invoice_id: bytes32, exporter: address, agent: address, documents_hash: bytes32, expiry: uint256
) -> bytes32:
    return keccak256(abi_encode(invoice_id, exporter, agent, documents_hash, expiry))


@external
@view
def termsHash(
    invoice_id: bytes32, exporter: address, agent: address, documents_hash: bytes32, expiry: uint256
) -> bytes32:
    """@notice The EIP-3009 nonce an importer signs to fund this invoice's escrow by authorisation."""
    return self._terms_hash(invoice_id, exporter, agent, documents_hash, expiry)


@internal
def _open(
    invoice_id: bytes32,
    importer: address,
    exporter: address,
    agent: address,
    amount: uint256,
    documents_hash: bytes32,
    expiry: uint256,
    funding: uint8,
):
    assert invoice_id != empty(bytes32), "invoice id missing"
    assert self.deals[invoice_id].state == STATE_NONE, "invoice already escrowed"
    assert exporter != empty(address), "zero address"
    assert exporter != importer, "importer is the exporter"
    assert agent != exporter, "agent is the exporter"
    assert amount > 0, "zero amount"
    assert documents_hash != empty(bytes32), "documents hash missing"
    assert expiry > block.timestamp, "expiry in the past"
    assert expiry <= block.timestamp + EXPIRY_MAX_S, "expiry too far"
    # The coin refuses the importer's own transfer when frozen; an exporter or agent frozen now could never
    # be paid or act, so the escrow is refused up front.
    assert not staticcall Coin(TOKEN).isFrozen(exporter), "exporter frozen"
    if agent != empty(address):
        assert not staticcall Coin(TOKEN).isFrozen(agent), "agent frozen"
    self.deals[invoice_id] = Deal(
        importer=importer,
        exporter=exporter,
        agent=agent,
        amount=amount,
        documents_hash=documents_hash,
        expiry=expiry,
        state=STATE_LOCKED,
    )
    self.locked_total += amount
    log Locked(
        invoice_id=invoice_id,
        importer=importer,
        exporter=exporter,
        agent=agent,
        amount=amount,
        documents_hash=documents_hash,
        expiry=expiry,
        funding=funding,
    )


@external
@nonreentrant
def lock(
    invoice_id: bytes32, exporter: address, agent: address, amount: uint256, documents_hash: bytes32, expiry: uint256
):
    """@notice The importer (the caller) locks coins it approved to this contract."""
    self._open(invoice_id, msg.sender, exporter, agent, amount, documents_hash, expiry, FUNDING_APPROVAL)
    assert extcall Coin(TOKEN).transferFrom(msg.sender, self, amount), "transfer failed"


@external
@nonreentrant
def lockWithPermit(
    invoice_id: bytes32,
    exporter: address,
    agent: address,
    amount: uint256,
    documents_hash: bytes32,
    expiry: uint256,
    deadline: uint256,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    """
    @notice The importer (the caller) locks coins with an EIP-2612 permit for this contract. If someone
            already submitted the permit (it is public once broadcast), the allowance it set is used.
    """
    self._open(invoice_id, msg.sender, exporter, agent, amount, documents_hash, expiry, FUNDING_PERMIT)
    if staticcall Coin(TOKEN).allowance(msg.sender, self) < amount:
        extcall Coin(TOKEN).permit(msg.sender, self, amount, deadline, v, r, s)
    assert extcall Coin(TOKEN).transferFrom(msg.sender, self, amount), "transfer failed"


@external
@nonreentrant
def lockWithAuthorization(
    invoice_id: bytes32,
    importer: address,
    exporter: address,
    agent: address,
    amount: uint256,
    documents_hash: bytes32,
    expiry: uint256,
    valid_after: uint256,
    valid_before: uint256,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    """
    @notice Anyone submits the importer's EIP-3009 ReceiveWithAuthorization (to this contract, with the nonce
            `termsHash(invoice_id, exporter, agent, documents_hash, expiry)`).
    """
    self._open(invoice_id, importer, exporter, agent, amount, documents_hash, expiry, FUNDING_AUTHORIZATION)
    nonce: bytes32 = self._terms_hash(invoice_id, exporter, agent, documents_hash, expiry)
    extcall Coin(TOKEN).receiveWithAuthorization(importer, self, amount, valid_after, valid_before, nonce, v, r, s)


@internal
def _pay_out(invoice_id: bytes32, receiver: address, amount: uint256, state: uint8):
    self.deals[invoice_id].state = state
    self.locked_total -= amount
    assert extcall Coin(TOKEN).transfer(receiver, amount), "transfer failed"


@external
@nonreentrant
def release(invoice_id: bytes32, documents_hash: bytes32):
    """
    @notice Accept the documents and pay the exporter. The importer or the agent may accept a locked escrow
            before its expiry; only the agent may release a disputed one. The hash presented must be the one
            locked.
    """
    deal: Deal = self.deals[invoice_id]
    assert deal.state == STATE_LOCKED or deal.state == STATE_DISPUTED, "not locked"
    if deal.state == STATE_DISPUTED:
        assert msg.sender == deal.agent, "disputed: agent only"
    else:
        assert msg.sender == deal.importer or (msg.sender == deal.agent and deal.agent != empty(address)), \
            "not importer or agent"
        assert block.timestamp < deal.expiry, "escrow expired"
    assert documents_hash == deal.documents_hash, "documents hash mismatch"
    self._pay_out(invoice_id, deal.exporter, deal.amount, STATE_RELEASED)
    log Released(
        invoice_id=invoice_id,
        exporter=deal.exporter,
        accepted_by=msg.sender,
        amount=deal.amount,
        documents_hash=documents_hash,
    )


@external
@nonreentrant
def refund(invoice_id: bytes32):
    """
    @notice Return the coins to the importer: anyone may trigger it once a locked escrow has expired; the
            agent may refund a disputed escrow at any time.
    """
    deal: Deal = self.deals[invoice_id]
    assert deal.state == STATE_LOCKED or deal.state == STATE_DISPUTED, "not locked"
    if deal.state == STATE_DISPUTED:
        assert msg.sender == deal.agent, "disputed: agent only"
    else:
        assert block.timestamp >= deal.expiry, "not expired"
    self._pay_out(invoice_id, deal.importer, deal.amount, STATE_REFUNDED)
    log Refunded(invoice_id=invoice_id, importer=deal.importer, refunded_by=msg.sender, amount=deal.amount)


@external
def dispute(invoice_id: bytes32):
    """@notice The importer or the exporter disputes a locked escrow before expiry; the agent then decides."""
    deal: Deal = self.deals[invoice_id]
    assert deal.state == STATE_LOCKED, "not locked"
    assert msg.sender == deal.importer or msg.sender == deal.exporter, "not a party"
    assert deal.agent != empty(address), "no agent appointed"
    assert block.timestamp < deal.expiry, "escrow expired"
    self.deals[invoice_id].state = STATE_DISPUTED
    log Disputed(invoice_id=invoice_id, disputed_by=msg.sender)


@external
@view
def stateOf(invoice_id: bytes32) -> uint8:
    return self.deals[invoice_id].state
