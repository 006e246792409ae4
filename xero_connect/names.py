"""How a name in a document is matched to a name in a Xero list.

Xero treats contact names as the same when they differ only in letter case; people also type
stray spaces and paste decomposed accents ("Ko\u0304whai" vs "Kōwhai"). So a name is compared by
its key: Unicode NFC, case folded (``str.casefold``, which also folds "ß" to "ss"), with leading,
trailing and repeated whitespace collapsed to single spaces.
"""
import unicodedata


def contact_name_key(name: str | None) -> str:
    """The key two names are equal by: ``"  KŌWHAI   coffee "`` → ``"kōwhai coffee"``.

    Shape: str → str (possibly ""). Never raises. NFC is applied again after folding because
    casefold can produce sequences that compose differently.
    """
    text = unicodedata.normalize("NFC", str(name or ""))
    text = " ".join(text.split()).casefold()
    return unicodedata.normalize("NFC", text)
