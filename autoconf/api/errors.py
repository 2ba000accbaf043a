"""The one place that turns any error into JSON (API) or a page (browser); never a traceback."""

import dataclasses
import logging
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from autoconf import errors
from autoconf.api.refusals import API_ERRORS, documented
from autoconf.api.rendering import render

log = logging.getLogger("autoconf")

STATUS: dict[type[errors.DomainError], int] = {
    errors.NotAuthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Busy: 423,
    errors.TooLarge: 413,
    errors.UnsupportedMedia: 415,
    errors.Invalid: 422,
    errors.TooManyAttempts: 429,
    errors.ToolMissing: 503,
    errors.Unavailable: 503,
}

HTTP_MESSAGES = {
    404: "Cette page n'existe pas.",
    405: "Cette méthode n'est pas permise ici.",
    413: "La requête dépasse la taille maximale acceptée par ce serveur.",
}
# Starlette's and FastAPI's own details, in the users' language.
_ENGLISH_DETAILS = {
    "There was an error parsing the body": "Le corps de la requête est illisible (JSON ou "
    "formulaire mal formé, ou texte qui n'est pas de l'UTF-8).",
}
# Starlette's multipart parser (its messages begin so; the rest names its limits).
_MULTIPART_DETAILS = {
    "Invalid multipart data": "Formulaire multipart illisible (parties mal formées).",
    "Missing boundary in multipart": "Formulaire multipart sans délimiteur (boundary).",
    'The Content-Disposition header field "name"': "Une partie du formulaire n'a pas de nom.",
    "Too many files": "Trop de fichiers dans le formulaire.",
    "Too many fields": "Trop de champs dans le formulaire.",
    "Field exceeded maximum size": "Un champ du formulaire dépasse la taille permise.",
    "Part exceeded maximum size": "Une partie du formulaire dépasse la taille permise.",
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
        "accept", ""
    )


def back_to(request: Request) -> str:
    """The page the user came from, if it is on this site (its path), else the studies."""
    referer = urlsplit(request.headers.get("referer", ""))
    path = referer.path
    same_site = (referer.scheme, referer.netloc) == ("", "") or (
        referer.scheme in ("http", "https") and referer.netloc == request.url.netloc
    )
    # "//other.site" and "/\\other.site" are other sites to a browser.
    if not same_site or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/studies"
    return path + (f"?{referer.query}" if referer.query else "")


def _page(request: Request, status: int, message: str) -> Response:
    return render(
        request, "error.html", status, status=status, message=message, back=back_to(request)
    )


def respond(request: Request, status: int, detail: Any, **extra: Any) -> Response:
    if wants_json(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        body = jsonable_encoder({"detail": detail, **extra})
        return JSONResponse(body, status_code=status, headers=headers)
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    return _page(request, status, detail if isinstance(detail, str) else "Requête invalide.")


async def domain_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, errors.DomainError)
    status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)
    extra: dict[str, Any] = {}
    current = getattr(error, "current", None)
    if dataclasses.is_dataclass(current) and not isinstance(current, type):
        extra["current"] = dataclasses.asdict(current)
    elif isinstance(current, dict):
        extra["current"] = current
    response = respond(request, status, str(error), **extra)
    if isinstance(error, errors.TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


_MOMENT = (
    "une date (AAAA-MM-JJ) ou une date et heure ISO 8601 est attendue, par exemple "
    "2025-03-14T10:30:00Z"
)
# Pydantic's messages, by error type, for French users (its own are in English).
_FRENCH = {
    "missing": "ce champ est obligatoire",
    "int_parsing": "un nombre entier est attendu",
    "int_type": "un nombre entier est attendu",
    "float_parsing": "un nombre est attendu",
    "float_type": "un nombre est attendu",
    "bool_parsing": "vrai ou faux (true ou false) est attendu",
    "bool_type": "vrai ou faux (true ou false) est attendu",
    "string_type": "un texte est attendu",
    "list_type": "une liste est attendue",
    "dict_type": "un objet est attendu",
    "model_type": "un objet est attendu",
    "json_invalid": "le corps de la requête n'est pas du JSON valide",
    "extra_forbidden": "ce champ n'est pas prévu",
    "string_too_short": "au moins {min_length} caractère(s)",
    "string_too_long": "au plus {max_length} caractères",
    "too_short": "au moins {min_length} élément(s)",
    "too_long": "au plus {max_length} éléments",
    "greater_than": "doit être supérieur à {gt}",
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "less_than": "doit être inférieur à {lt}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "literal_error": "valeurs possibles : {expected}",
    "enum": "valeurs possibles : {expected}",
    "string_pattern_mismatch": "le format n'est pas le bon",
    "model_attributes_type": "un objet JSON est attendu",
    "int_from_float": "un nombre entier est attendu",
    "finite_number": "un nombre fini est attendu",
    "multiple_of": "doit être un multiple de {multiple_of}",
    "string_unicode": "un texte en UTF-8 est attendu",
    "iterable_type": "une liste est attendue",
    "tuple_type": "une liste est attendue",
    "set_type": "une liste est attendue",
    "json_type": "du JSON est attendu",
    "json_invalid_type": "du JSON est attendu",
    "uuid_parsing": "un identifiant (UUID) est attendu",
    "uuid_type": "un identifiant (UUID) est attendu",
    "date_type": "une date AAAA-MM-JJ est attendue, par exemple 2025-03-14",
    "date_parsing": "une date AAAA-MM-JJ est attendue, par exemple 2025-03-14",
    "date_from_datetime_parsing": "une date AAAA-MM-JJ est attendue, par exemple 2025-03-14",
    "date_from_datetime_inexact": "une date AAAA-MM-JJ est attendue, sans heure",
    "datetime_type": _MOMENT,
    "datetime_parsing": _MOMENT,
    "datetime_from_date_parsing": _MOMENT,
    "datetime_object_invalid": _MOMENT,
    "timezone_aware": "le fuseau horaire est attendu, par exemple 2025-03-14T10:30:00+01:00",
}


def _french(issue: dict[str, Any]) -> str:
    kind = str(issue.get("type", ""))
    message = str(issue.get("msg", "")).removeprefix("Value error, ")
    if kind == "value_error" and message.startswith("Expected UploadFile"):
        return "un fichier est attendu (un champ de formulaire multipart avec un nom de fichier)"
    if kind == "value_error":  # our own validators' messages, already French
        return message
    template = _FRENCH.get(kind)
    if template is None:  # a kind not translated yet: said in French, detailed in English
        return f"valeur refusée ({message})"
    context = dict(issue.get("ctx") or {})
    if isinstance(context.get("expected"), str):  # pydantic's "'a', 'b' or 'c'"
        context["expected"] = context["expected"].replace("' or '", "' ou '")
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return template


def _readable(issue: dict[str, Any]) -> dict[str, Any]:
    # The submitted value is left out: it may be a password.
    return {"loc": list(issue.get("loc", ())), "msg": _french(issue), "type": issue.get("type")}


async def integrity_error(request: Request, error: Exception) -> Response:
    """Two requests raced for the same unique value (PostgreSQL has no write lock)."""
    log.info("Integrity error on %s %s: %s", request.method, request.url.path, error)
    return respond(
        request,
        409,
        "Cette modification entre en conflit avec une autre, faite au même moment "
        "(un code déjà pris, un élément supprimé…). Rechargez et réessayez.",
    )


async def validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    issues = [_readable(issue) for issue in error.errors()]
    if not wants_json(request):
        text = "; ".join(f"{'.'.join(map(str, i['loc'][1:]))} : {i['msg']}" for i in issues)
        return _page(request, 422, f"Formulaire incomplet ou invalide — {text}")
    return JSONResponse({"detail": issues}, status_code=422)


# What tuspyserver says, in the users' language (it may also name a server path: never shown).
TUS_MESSAGES = {
    "Offset mismatch": "Cette partie du fichier ne suit pas ce que le serveur a déjà reçu ; "
    "l'envoi reprend à la bonne position.",
    "Upload expired": "Ce dépôt interrompu a expiré : recommencez l'envoi.",
    "Upload not found": "Dépôt inconnu ou expiré : recommencez l'envoi.",
    "Upload would exceed declared Upload-Length": "Le fichier envoyé est plus long qu'annoncé.",
    "Upload exceeds maximum allowed size": "Le fichier dépasse la taille maximale acceptée "
    "par ce serveur.",
    "Timed out": "Un autre envoi de ce fichier est en cours ; réessayez dans un instant.",
    "Unsupported version": "Ce serveur reçoit les dépôts en tus 1.0.0 : envoyez l'en-tête "
    "Tus-Resumable: 1.0.0.",
    "Invalid Upload-Defer-Length": "L'en-tête Upload-Defer-Length ne peut valoir que 1.",
    "Invalid upload ID": "Dépôt inconnu ou expiré : recommencez l'envoi.",
    "Upload-Offset header is required": "L'en-tête Upload-Offset manque.",
    "Invalid Upload-Offset header": "L'en-tête Upload-Offset doit être un nombre d'octets.",
    "Content-Type must be application/offset+octet-stream": "Les octets d'un dépôt "
    "s'envoient en application/offset+octet-stream.",
    "Internal server error": "Le serveur n'a pas pu écrire le fichier reçu (disque plein ?).",
}


def _readable_http(detail: Any, status: int) -> str:
    if isinstance(detail, str):
        if detail in _ENGLISH_DETAILS:
            return _ENGLISH_DETAILS[detail]
        for start, message in (*TUS_MESSAGES.items(), *_MULTIPART_DETAILS.items()):
            if detail.startswith(start):
                return message
    if detail and status not in HTTP_MESSAGES:
        return str(detail)
    return HTTP_MESSAGES.get(status, str(detail))


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    message = _readable_http(error.detail, error.status_code)
    response = respond(request, error.status_code, message)
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


async def unexpected_error(request: Request, error: Exception) -> Response:
    log.exception("Unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return respond(
        request, 500, "Erreur interne du serveur ; elle a été journalisée. Réessayez plus tard."
    )


def install(app: FastAPI) -> None:
    """The handlers, and the errors any route may answer in the OpenAPI document (called
    before the routers are included: each route takes the app's `responses` then)."""
    app.router.responses.update(documented(*API_ERRORS))
    app.add_exception_handler(errors.DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(IntegrityError, integrity_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
