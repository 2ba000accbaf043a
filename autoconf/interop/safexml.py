"""XML from users' files, read safely (ELAN, REFI-QDA).

lxml with a hardened parser: no entity is ever expanded, no DTD or external resource is
loaded, nothing is fetched from the network, no "huge tree". A document that declares a
DTD at all (the vehicle of XXE and of the billion laughs) is refused: neither ELAN nor
REFI-QDA files have one. A malformed document is refused with the line the parser stopped at.
"""

from lxml import etree

from autoconf.errors import Invalid

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "load_dtd": False,
    "dtd_validation": False,
    "no_network": True,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


_BYTE_ORDER_MARKS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def parse(content: bytes, name: str) -> etree._Element:
    """The root element of `content`; Invalid (French, naming the line) when it is not a
    well-formed XML document or when it declares a DTD or entities."""
    if not content.lstrip().startswith((b"<", *_BYTE_ORDER_MARKS)):
        raise Invalid(f"« {name} » n'est pas un fichier XML.")
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as error:
        raise Invalid(_syntax_message(name, error)) from None
    except ValueError as error:  # e.g. an encoding lxml does not know
        raise Invalid(f"« {name} » n'est pas un XML lisible : {error}.") from None
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise Invalid(
            f"« {name} » déclare une DTD ou des entités (<!DOCTYPE …>) : refusé, car cela "
            "sert à lire des fichiers du serveur ou à le saturer. Les fichiers ELAN et "
            "REFI-QDA n'en ont pas."
        )
    return root


def _syntax_message(name: str, error: etree.XMLSyntaxError) -> str:
    line = error.lineno or (error.position[0] if error.position else 0)
    reason = str(error.msg or error).split(", line ")[0]
    if "entit" in reason.lower() or "doctype" in reason.lower():
        return (
            f"« {name} » déclare ou utilise des entités XML (ligne {line}) : refusé, car cela "
            "sert à lire des fichiers du serveur ou à le saturer."
        )
    if "encoding" in reason.lower() or "bytes" in reason.lower() or "utf-8" in reason.lower():
        return (
            f"« {name} » n'est pas dans l'encodage qu'il annonce (ligne {line}) : "
            "enregistrez-le en UTF-8."
        )
    return f"« {name} » n'est pas un XML bien formé (ligne {line} : {reason})."


def local(element: etree._Element) -> str:
    """An element's name without its namespace."""
    return str(etree.QName(element).localname)
