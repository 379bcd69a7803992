# pragma version ~=0.4.3
# pragma optimize gas
"""
@title Bauhinia CNH/HKD payment-versus-payment swap
@license UNLICENSED
@notice Settles a firm quote between the two coins in one transaction: the maker's leg and the taker's leg
        move together or not at all. The maker (the issuer's treasury or another customer) signs the quote
        (EIP-712); the taker named in it submits it before its expiry. Both have approved this contract for
        their leg. A refused leg (frozen address, paused coin, balance or allowance too low) reverts the whole
        transaction, so neither side changes.
@dev No owner, no admin key. A quote is used once: its (maker, nonce) is consumed by settlement, and the
     maker can cancel an unused quote.
"""

interface Coin:
    def transferFrom(sender: address, receiver: address, amount: uint256) -> bool: nonpayable


event Swapped:
    maker: indexed(address)
    taker: indexed(address)
    nonce: indexed(bytes32)
    maker_token: address
    maker_amount: uint256
    taker_token: address
    taker_amount: uint256

event QuoteCancelled:
    maker: indexed(address)
    nonce: indexed(bytes32)


EIP712_DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
QUOTE_TYPEHASH: public(constant(bytes32)) = keccak256(
    "Quote(address maker,address taker,address makerToken,uint256 makerAmount,address takerToken,uint256 takerAmount,uint256 expiry,bytes32 nonce)"
)
NAME: public(constant(String[32])) = "Bauhinia Swap"
VERSION: public(constant(String[8])) = "1"
# secp256k1 n / 2: signatures with a higher s are malleable and refused.
S_MAX: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168

COIN_A: public(immutable(address))
COIN_B: public(immutable(address))

quoteUsed: public(HashMap[address, HashMap[bytes32, bool]])


@deploy
def __init__(coin_a: address, coin_b: address):
    assert coin_a != empty(address) and coin_b != empty(address), "zero address"
    assert coin_a != coin_b, "same coin"
    COIN_A = coin_a
    COIN_B = coin_b


@internal
@view
def _domain_separator() -> bytes32:
    return keccak256(
        abi_encode(EIP712_DOMAIN_TYPEHASH, keccak256(NAME), keccak256(VERSION), chain.id, self)
    )


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    return self._domain_separator()


@internal
@view
def _quote_digest(
    maker: address,
    taker: address,
    maker_token: address,
    maker_amount: uint256,
    taker_token: address,
    taker_amount: uint256,
    expiry: uint256,
    nonce: bytes32,
) -> bytes32:
    struct_hash: bytes32 = keccak256(
        abi_encode(QUOTE_TYPEHASH, maker, taker, maker_token, maker_amount, taker_token, taker_amount, expiry, nonce)
    )
    return keccak256(concat(b"\x19\x01", self._domain_separator(), struct_hash))


@external
@view
def quoteDigest(
    maker: address,
    taker: address,
    maker_token: address,
    maker_amount: uint256,
    taker_token: address,
    taker_amount: uint256,
    expiry: uint256,
    nonce: bytes32,
) -> bytes32:
    return self._quote_digest(maker, taker, maker_token, maker_amount, taker_token, taker_amount, expiry, nonce)


@external
@nonreentrant
def settle(
    maker: address,
    taker: address,
    maker_token: address,
    maker_amount: uint256,
    taker_token: address,
    taker_amount: uint256,
    expiry: uint256,
    nonce: bytes32,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    """@notice The taker settles the maker's signed quote: both legs in this one transaction."""
    assert (maker_token == COIN_A and taker_token == COIN_B) or (maker_token == COIN_B and taker_token == COIN_A), \
        "pair not supported"
    assert msg.sender == taker, "caller is not the taker"
    assert maker != taker, "maker is the taker"
    assert maker_amount > 0 and taker_amount > 0, "zero amount"
    assert block.timestamp <= expiry, "quote expired"
    assert not self.quoteUsed[maker][nonce], "quote used or cancelled"
    assert convert(s, uint256) <= S_MAX, "invalid signature"
    assert v == 27 or v == 28, "invalid signature"
    digest: bytes32 = self._quote_digest(
        maker, taker, maker_token, maker_amount, taker_token, taker_amount, expiry, nonce
    )
    signer: address = ecrecover(digest, v, r, s)
    assert signer != empty(address) and signer == maker, "invalid signature"
    self.quoteUsed[maker][nonce] = True
    assert extcall Coin(maker_token).transferFrom(maker, taker, maker_amount), "maker leg failed"
    assert extcall Coin(taker_token).transferFrom(taker, maker, taker_amount), "taker leg failed"
    log Swapped(
        maker=maker,
        taker=taker,
        nonce=nonce,
        maker_token=maker_token,
        maker_amount=maker_amount,
        taker_token=taker_token,
        taker_amount=taker_amount,
    )


@external
def cancelQuote(nonce: bytes32):
    """@notice The maker withdraws a quote it signed (before it is settled)."""
    assert not self.quoteUsed[msg.sender][nonce], "quote used or cancelled"
    self.quoteUsed[msg.sender][nonce] = True
    log QuoteCancelled(maker=msg.sender, nonce=nonce)
