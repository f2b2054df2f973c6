"""Company registration numbers: the mainland USCC (GB 32100-2015) and the Hong Kong BR number."""

import re
import unicodedata

# GB 32100-2015: 18 characters from this 31-character set (no I, O, S, V, Z); the last is a
# check character computed from the first 17 with these weights, modulo 31.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
HK_BR = re.compile(r"[0-9]{8}")  # ASCII digits: \d would also take other scripts' digits


def normalize(number: str) -> str:
    """Without spaces, upper-case, full-width characters (as Chinese input methods type them)
    folded to ASCII, so one number is stored, and claimed, one way only."""
    return "".join(unicodedata.normalize("NFKC", str(number)).split()).upper()


def uscc_check_character(first17: str) -> str:
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def uscc_is_valid(code: str) -> bool:
    code = normalize(code)
    if len(code) != 18 or any(c not in USCC_CHARSET for c in code):
        return False
    return uscc_check_character(code[:17]) == code[17]


def hk_br_is_valid(number: str) -> bool:
    return bool(HK_BR.fullmatch(normalize(number)))
