"""Technology contracts (技术合同): the outcome of a broker's pair or an awarded proposal."""
