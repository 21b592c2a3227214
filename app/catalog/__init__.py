"""Code lists shared by both sides: industry fields, cooperation modes, maturity, regions."""
