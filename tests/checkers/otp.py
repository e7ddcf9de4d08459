"""Prints the TOTP code (RFC 6238: SHA-1, 6 digits, 30 s) of a base32 SECRET at UNIX_TIME, computed by
pyotp -- not repbook's code -- as an authenticator app on a phone would.

usage: otp.py SECRET UNIX_TIME
"""

import sys

import pyotp

print(pyotp.TOTP(sys.argv[1]).at(int(sys.argv[2])))
