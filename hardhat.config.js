// The Hardhat JSON-RPC node used by the chain integration tests and the benchmark (no Solidity here:
// the contracts are Vyper and are compiled by tools/compile_contracts.py).
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "cancun",
      allowUnlimitedContractSize: false,
      mining: { auto: true },
    },
  },
};
