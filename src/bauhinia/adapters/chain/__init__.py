"""The chain adapter (web3.py): the Chain port for each coin's contract, on the in-process EVM (embedded
default, `make_embedded_chain`: revm through pyrevm by default, py-evm on request) or on any Ethereum JSON-RPC
node (`connect_node`), plus the transaction journal, role keystores and deployment. See web3_chain.Web3Chain
for the API and revm_provider for what the embedded node does and does not do."""
