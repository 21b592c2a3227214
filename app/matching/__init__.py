"""Matching engine: text normalisation, dense and lexical indexes, score fusion."""
