"""Bauhinia: the platform a Hong Kong-licensed fiat-referenced stablecoin issuer runs."""

__version__ = "0.1.0"
