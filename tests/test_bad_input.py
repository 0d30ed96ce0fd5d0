"""Bad input to every endpoint: the exact status and JSON error, no row changed, never a 500."""

from dataclasses import dataclass

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.test import APIClient

from tests.factories import CategoryFactory, ToolFactory, UserFactory, VendorFactory
from tests.helpers import bearer
from tools.models import Tool
from votes.models import Subscriber, SubscriberStatus, Vote

pytestmark = pytest.mark.django_db

VOTE = "/api/v1/tools/code-llama-4/vote/"
REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
LOGOUT = "/api/v1/auth/logout/"
VERIFY = "/api/v1/auth/verify/"
RESEND = "/api/v1/auth/verify/resend/"
SUBSCRIBE = "/api/v1/newsletter/subscriptions/"
CONFIRM = "/api/v1/newsletter/confirm/"
UNSUBSCRIBE = "/api/v1/newsletter/unsubscribe/"
LOGOUT_ALL = "/api/v1/auth/logout-all/"
PASSWORD_CHANGE = "/api/v1/auth/password/"
PASSWORD_RESET = "/api/v1/auth/password-reset/"
PASSWORD_RESET_CONFIRM = "/api/v1/auth/password-reset/confirm/"
TOOLS = "/api/v1/tools/"
PAIR = "code-llama-4-vs-mistral-large-3"
PASSWORD = "a long passphrase 42"
LONG = "a" * 5000
RTL = "%E2%80%AE"  # U+202E RIGHT-TO-LEFT OVERRIDE, as a URL carries it
ROCKET = "%F0%9F%9A%80"  # U+1F680, an emoji
# Valid JSON for a vote, padded with whitespace one byte past the limit: only the size is wrong.
OVERSIZED = b'{"verdict": "ship"}'.rjust(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
SNAPSHOT_APPS = {"tools", "reviews", "votes", "partners", "webhooks", "knox"}


def error(code: str, detail: str) -> dict:
    return {"type": "client_error", "errors": [{"code": code, "detail": detail, "attr": None}]}


def invalid(*errors: tuple[str | None, str, str]) -> dict:
    """A validation error from (attr, code, detail) triples."""
    return {"type": "validation_error", "errors": [{"code": c, "detail": d, "attr": a} for a, c, d in errors]}


def parse_error(reason: str) -> dict:
    return error("parse_error", f"JSON parse error - {reason}")


def not_allowed(method: str) -> dict:
    return error("method_not_allowed", f'Method "{method}" not allowed.')


def unsupported(media_type: str) -> dict:
    return error("unsupported_media_type", f'Unsupported media type "{media_type}" in request.')


NO_ROUTE = error("not_found", "No such resource.")  # the URL resolver: no route matches
NOT_FOUND = error("not_found", "Not found.")  # a route matched, no published row did
BAD_PAIR = error(
    "not_found", "A comparison URL names two to four tool slugs joined by '-vs-', e.g. 'a-vs-b' or 'a-vs-b-vs-c'."
)
INVALID_PAGE = error("not_found", "Invalid page.")
INVALID_PAGE_SIZE = error("not_found", "Invalid page size: use 1 to 100.")
# Every paginated list, and characters that are digits to `str.isdigit` or `int` but not ASCII.
PAGINATED = [
    "/api/v1/categories/",
    "/api/v1/vendors/",
    "/api/v1/tools/",
    "/api/v1/reviewers/",
    "/api/v1/comparisons/",
    "/api/v1/reviewers/the-builder/reviews/",
    "/api/v1/leaderboards/",
    "/api/v1/leaderboards/developer-tools/",
    "/api/v1/tools/code-llama-4/alternatives/",
]
UNICODE_DIGITS = [
    ("superscript-two", "%C2%B2"),  # ² : isdigit, int refuses
    ("circled-one", "%E2%91%A0"),  # ① : isdigit, int refuses
    ("superscript-one", "%C2%B9"),  # ¹
    ("arabic-indic-one", "%D9%A1"),  # ١ : int reads 1
    ("fullwidth-two", "%EF%BC%92"),  # ２ : int reads 2
    ("mathematical-bold-one", "%F0%9D%9F%8F"),  # 𝟏 : int reads 1
]
NUL_QUERY = error("invalid_query", "The query string may not contain NUL bytes.")
NO_CREDENTIALS = error("not_authenticated", "Authentication credentials were not provided.")
BAD_TOKEN = error("authentication_failed", "Invalid token.")
BAD_KEY = error(
    "authentication_failed", "Malformed API key: send `X-API-Key: <key>` or `Authorization: Api-Key <key>`."
)
TOO_LARGE = error("request_too_large", "The request body is too large.")
SAME_TOOL = invalid(("pair", "invalid", "Compare two different tools."))
NAMED_TWICE = invalid(("pair", "invalid", "Name each tool once: 'code-llama-4' appears more than once."))
FIVE_TOOLS = invalid(("pair", "invalid", "Compare two to four tools, not 5."))
BAD_LINK = invalid(("token", "invalid", "This link is invalid or has expired."))
NO_MATCH = {"count": 0, "next": None, "previous": None, "results": []}
REQUIRED = "This field is required."
BAD_USERNAME = "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."
NUL_CHARS = "Null characters are not allowed."
NESTED = parse_error("the document is nested too deeply.")
AFTER_NFKC = "Ensure this field has no more than 150 characters (counted after Unicode normalisation)."
LOOKS_TAKEN = "This username looks the same as an existing account's; choose another."


def not_a_dict(kind: str) -> dict:
    return invalid(("non_field_errors", "invalid", f"Invalid data. Expected a dictionary, but got {kind}."))


def no_tool(slug: str) -> dict:
    return error("not_found", f"No published tool has the slug '{slug}'.")


@dataclass(frozen=True)
class Bad:
    method: str
    path: str
    status: int
    expected: dict
    body: bytes = b""
    content_type: str = "application/json"
    caller: str = "anonymous"  # or "voter" (a Bearer token of the voter "ada")
    authorization: str | None = None  # a literal Authorization header instead
    accept: str | None = None


def case(name: str, *args: object, marks: tuple = (), **kwargs: object):
    return pytest.param(Bad(*args, **kwargs), id=name, marks=marks)


def voter_put(name: str, body: bytes, status: int, expected: dict, **kwargs: object):
    return case(name, "PUT", VOTE, status, expected, body=body, caller="voter", **kwargs)


CATALOG = [
    # Bodies that are not JSON objects.
    voter_put("malformed-json", b'{"verdict": ', 400, parse_error("Expecting value: line 1 column 13 (char 12)")),
    case(
        "malformed-json-register",
        "POST",
        REGISTER,
        400,
        parse_error("Expecting property name enclosed in double quotes: line 1 column 19 (char 18)"),
        body=b'{"username": "x", }',
    ),
    voter_put("json-array", b'[{"verdict": "ship"}]', 400, not_a_dict("list")),
    voter_put("json-scalar", b"42", 400, not_a_dict("int")),
    voter_put("json-null", b"null", 400, invalid(("non_field_errors", "null", "No data provided"))),
    case("json-string-register", "POST", REGISTER, 400, not_a_dict("str"), body=b'"ada"'),
    case("json-array-subscribe", "POST", SUBSCRIBE, 400, not_a_dict("list"), body=b'["a@example.com"]'),
    # The link views read `token` from an object only; anything else is a missing token.
    case(
        "json-array-confirm",
        "POST",
        CONFIRM,
        400,
        invalid(("token", "null", "This field may not be null.")),
        body=b'["token"]',
    ),
    voter_put(
        "json-nan", b'{"verdict": NaN}', 400, parse_error("Out of range float values are not JSON compliant: 'NaN'")
    ),
    voter_put(
        "json-5000-digit-number",
        b'{"verdict": ' + b"9" * 5000 + b"}",
        400,
        parse_error(
            "Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits; "
            "use sys.set_int_max_str_digits() to increase the limit"
        ),
    ),
    voter_put("json-nested-10000-deep", b"[" * 10000, 400, NESTED),
    case(
        "json-nested-10000-deep-register",
        "POST",
        REGISTER,
        400,
        NESTED,
        body=b'{"a":' * 10000 + b"1" + b"}" * 10000,
    ),
    voter_put(
        "invalid-utf8",
        b'{"verdict": "\xff\xfe"}',
        400,
        parse_error("'utf-8' codec can't decode byte 0xff in position 13: invalid start byte"),
    ),
    case(
        "invalid-utf8-subscribe",
        "POST",
        SUBSCRIBE,
        400,
        parse_error("'utf-8' codec can't decode byte 0xc3 in position 11: invalid continuation byte"),
        body=b'{"email": "\xc3(@example.com"}',
    ),
    voter_put("over-the-size-limit", OVERSIZED, 413, TOO_LARGE),
    case("over-the-size-limit-register", "POST", REGISTER, 413, TOO_LARGE, body=OVERSIZED),
    # JSON only.
    voter_put(
        "form-encoded",
        b"verdict=ship",
        415,
        unsupported("application/x-www-form-urlencoded"),
        content_type="application/x-www-form-urlencoded",
    ),
    case(
        "text-plain",
        "POST",
        REGISTER,
        415,
        unsupported("text/plain"),
        body=b"ada",
        content_type="text/plain",
    ),
    case(
        "xml",
        "POST",
        SUBSCRIBE,
        415,
        unsupported("application/xml"),
        body=b"<email>a@example.com</email>",
        content_type="application/xml",
    ),
    voter_put("no-content-type", b'{"verdict": "ship"}', 415, unsupported(""), content_type=""),
    case(
        "accept-xml",
        "GET",
        TOOLS,
        406,
        error("not_acceptable", "Could not satisfy the request Accept header."),
        accept="application/xml",
    ),
    # Fields with the wrong value.
    voter_put(
        "verdict-not-a-choice",
        b'{"verdict": "maybe"}',
        400,
        invalid(("verdict", "invalid_choice", '"maybe" is not a valid choice.')),
    ),
    voter_put(
        "verdict-with-nul",
        b'{"verdict": "ship\\u0000"}',
        400,
        invalid(("verdict", "invalid_choice", '"ship\x00" is not a valid choice.')),
    ),
    case(
        "register-nothing",
        "POST",
        REGISTER,
        400,
        invalid(
            ("username", "required", REQUIRED), ("email", "required", REQUIRED), ("password", "required", REQUIRED)
        ),
        body=b"{}",
    ),
    case(
        "register-without-email",
        "POST",
        REGISTER,
        400,
        invalid(("email", "required", REQUIRED)),
        body=b'{"username": "bob", "password": "a long passphrase 42"}',
    ),
    case(
        "register-blank-email",
        "POST",
        REGISTER,
        400,
        invalid(("email", "blank", "This field may not be blank.")),
        body=b'{"username": "bob", "email": "  ", "password": "a long passphrase 42"}',
    ),
    case(
        "register-email-not-an-address",
        "POST",
        REGISTER,
        400,
        invalid(("email", "invalid", "Enter a valid email address.")),
        body=b'{"username": "bob", "email": ["bob@example.com"], "password": "a long passphrase 42"}',
    ),
    case(
        "register-email-with-nul",
        "POST",
        REGISTER,
        400,
        invalid(
            ("email", "null_characters_not_allowed", NUL_CHARS), ("email", "invalid", "Enter a valid email address.")
        ),
        body=b'{"username": "bob", "email": "bob\\u0000@example.com", "password": "a long passphrase 42"}',
    ),
    case(
        "register-5000-character-email",
        "POST",
        REGISTER,
        400,
        invalid(
            ("email", "max_length", "Ensure this field has no more than 254 characters."),
            ("email", "invalid", "Enter a valid email address."),
        ),
        body=f'{{"username": "bob", "email": "{LONG}@example.com", "password": "{PASSWORD}"}}'.encode(),
    ),
    # One account per address, compared case-folded and without the local part's +tag ("ada" has ada@example.com).
    case(
        "register-taken-address-spelled-otherwise",
        "POST",
        REGISTER,
        400,
        invalid(("email", "unique", "An account with this email address already exists.")),
        body=b'{"username": "bob", "email": "ADA+second@Example.com", "password": "a long passphrase 42"}',
    ),
    case(
        "register-disposable-address",
        "POST",
        REGISTER,
        400,
        invalid(("email", "disposable", "Addresses at disposable-mail domains cannot register.")),
        body=b'{"username": "bob", "email": "bob@mailinator.com", "password": "a long passphrase 42"}',
    ),
    case("verify-without-token", "GET", VERIFY, 400, invalid(("token", "null", "This field may not be null."))),
    case("verify-forged-token", "GET", f"{VERIFY}?token=eyJpZCI6MX0:1xYUqb:forged", 400, BAD_LINK),
    case(
        "verify-token-with-nul",
        "GET",
        f"{VERIFY}?token=a%00b",
        400,
        invalid(("token", "null_characters_not_allowed", NUL_CHARS)),
    ),
    case(
        "verify-5000-character-token",
        "GET",
        f"{VERIFY}?token={LONG}",
        400,
        invalid(("token", "max_length", "Ensure this field has no more than 1000 characters.")),
    ),
    case(
        "verify-post-token-not-a-string",
        "POST",
        VERIFY,
        400,
        invalid(("token", "invalid", "Not a valid string.")),
        body=b'{"token": {"id": 1}}',
    ),
    case(
        "verify-post-empty-body",
        "POST",
        VERIFY,
        400,
        invalid(("token", "null", "This field may not be null.")),
        body=b"{}",
    ),
    case("resend-anonymous", "POST", RESEND, 401, NO_CREDENTIALS),
    case(
        "resend-already-verified",
        "POST",
        RESEND,
        400,
        invalid(("non_field_errors", "already_verified", "This account's email address is verified already.")),
        caller="voter",
    ),
    case(
        "register-nul-in-username",
        "POST",
        REGISTER,
        400,
        invalid(("username", "invalid", BAD_USERNAME), ("username", "null_characters_not_allowed", NUL_CHARS)),
        body=b'{"email": "bob@example.com", "username": "a\\u0000b", "password": "a long passphrase 42"}',
    ),
    case(
        "register-rtl-override-in-username",
        "POST",
        REGISTER,
        400,
        invalid(("username", "invalid", BAD_USERNAME)),
        body=b'{"email": "bob@example.com", "username": "ada\\u202egpj.exe", "password": "a long passphrase 42"}',
    ),
    case(
        "register-emoji-username",
        "POST",
        REGISTER,
        400,
        invalid(("username", "invalid", BAD_USERNAME)),
        body='{"email": "bob@example.com", "username": "\U0001f680", "password": "a long passphrase 42"}'.encode(),
    ),
    case(
        "register-5000-character-username",
        "POST",
        REGISTER,
        400,
        invalid(("username", "max_length", "Ensure this field has no more than 150 characters.")),
        body=f'{{"email": "bob@example.com", "username": "{LONG}", "password": "{PASSWORD}"}}'.encode(),
    ),
    case(
        "register-look-alike-username",
        "POST",
        REGISTER,
        400,
        invalid(("username", "unique", "A user with that username already exists.")),
        body=b'{"email": "bob@example.com", "username": "ADA", "password": "a long passphrase 42"}',
    ),
    case(
        "register-weak-password",
        "POST",
        REGISTER,
        400,
        invalid(
            ("password", "password_too_short", "This password is too short. It must contain at least 8 characters."),
            ("password", "password_too_common", "This password is too common."),
            ("password", "password_entirely_numeric", "This password is entirely numeric."),
        ),
        body=b'{"email": "bob@example.com", "username": "bob", "password": "123"}',
    ),
    # The token endpoint refuses passwords over 4096 characters, so such an account could never log in.
    case(
        "register-password-no-one-could-log-in-with",
        "POST",
        REGISTER,
        400,
        invalid(("password", "max_length", "Ensure this field has no more than 4096 characters.")),
        body=f'{{"email": "bob@example.com", "username": "bob", "password": "Zq9{"x7y" * 1700}"}}'.encode(),
    ),
    case(
        "token-wrong-password",
        "POST",
        TOKEN,
        400,
        invalid(("non_field_errors", "invalid_credentials", "Unable to log in with the username and password given.")),
        body=b'{"username": "ada", "password": "not the password"}',
    ),
    case(
        "token-nul-in-username",
        "POST",
        TOKEN,
        400,
        invalid(("username", "null_characters_not_allowed", NUL_CHARS)),
        body=b'{"username": "ada\\u0000", "password": "x"}',
    ),
    case(
        "subscribe-not-an-email",
        "POST",
        SUBSCRIBE,
        400,
        invalid(("email", "invalid", "Enter a valid email address.")),
        body=b'{"email": "not-an-email"}',
    ),
    case(
        "subscribe-nul-in-email",
        "POST",
        SUBSCRIBE,
        400,
        invalid(
            ("email", "null_characters_not_allowed", NUL_CHARS), ("email", "invalid", "Enter a valid email address.")
        ),
        body=b'{"email": "a\\u0000@example.com"}',
    ),
    case(
        "subscribe-300-character-email",
        "POST",
        SUBSCRIBE,
        400,
        invalid(("email", "max_length", "Ensure this field has no more than 254 characters.")),
        body=f'{{"email": "{"a" * 288}@example.com"}}'.encode(),
    ),
    case("confirm-without-token", "GET", CONFIRM, 400, invalid(("token", "null", "This field may not be null."))),
    case("confirm-forged-token", "GET", f"{CONFIRM}?token=forged:abc", 400, BAD_LINK),
    case("unsubscribe-forged-token", "POST", UNSUBSCRIBE, 400, BAD_LINK, body=b'{"token": "forged"}'),
    case(
        "confirm-2000-character-token",
        "POST",
        CONFIRM,
        400,
        invalid(("token", "max_length", "Ensure this field has no more than 1000 characters.")),
        body=f'{{"token": "{"a" * 2000}"}}'.encode(),
    ),
    # Paths: slugs are [-a-zA-Z0-9_]+, so odd characters never reach a query.
    case("nul-in-path", "GET", "/api/v1/tools/code-llama-4%00/", 404, NO_ROUTE),
    case("nul-in-vote-path", "PUT", "/api/v1/tools/code-llama-4%00/vote/", 404, NO_ROUTE, caller="voter"),
    case("control-character-in-path", "GET", "/api/v1/tools/code%01llama-4/reviews/", 404, NO_ROUTE),
    case("nul-in-comparison", "GET", "/api/v1/comparisons/code-llama-4%00-vs-mistral-large-3/", 404, BAD_PAIR),
    case("invalid-utf8-in-path", "GET", "/api/v1/tools/%FF/", 404, NO_ROUTE),
    case("rtl-override-in-slug", "GET", f"/api/v1/tools/code-llama-4{RTL}/", 404, NO_ROUTE),
    case(
        "rtl-override-in-comparison", "GET", f"/api/v1/comparisons/code-llama-4{RTL}-vs-mistral-large-3/", 404, BAD_PAIR
    ),
    case("emoji-slug", "GET", f"/api/v1/reviewers/{ROCKET}/", 404, NO_ROUTE),
    case("emoji-in-comparison", "GET", f"/api/v1/comparisons/{ROCKET}-vs-code-llama-4/", 404, BAD_PAIR),
    case("5000-character-tool-slug", "GET", f"/api/v1/tools/{LONG}/", 404, NOT_FOUND),
    case("5000-character-category-slug", "GET", f"/api/v1/categories/{LONG}/", 404, NOT_FOUND),
    case("5000-character-vote-slug", "PUT", f"/api/v1/tools/{LONG}/vote/", 404, NOT_FOUND, caller="voter"),
    case("5000-character-comparison", "GET", f"/api/v1/comparisons/{LONG}-vs-code-llama-4/", 404, BAD_PAIR),
    # Query strings.
    # The API refuses a NUL in the parameter that would carry it to the database, naming it;
    # outside the API (the admin) any NUL in the query string is refused up front.
    case(
        "nul-in-query",
        "GET",
        f"{TOOLS}?search=code%00",
        400,
        invalid(("search", "null_characters_not_allowed", "Null characters are not allowed.")),
    ),
    case("raw-nul-in-query", "GET", "/api/v1/comparisons/?page=1\x00", 404, error("not_found", "Invalid page.")),
    case("nul-in-admin-query", "GET", "/admin/login/?next=%00", 400, NUL_QUERY),
    case("control-character-in-search", "GET", f"{TOOLS}?search=code%01", 200, NO_MATCH),
    case("invalid-utf8-in-search", "GET", f"{TOOLS}?search=%FF", 200, NO_MATCH),
    case("sql-in-search", "GET", f"{TOOLS}?search=%27%20OR%201%3D1%20--", 200, NO_MATCH),
    case("sql-drop-in-search", "GET", f"{TOOLS}?search=%27%3B%20DROP%20TABLE%20tools_tool%3B%20--", 200, NO_MATCH),
    case("script-in-search", "GET", f"{TOOLS}?search=%3Cscript%3Ealert(1)%3C/script%3E", 200, NO_MATCH),
    case("script-in-category-search", "GET", "/api/v1/categories/?search=%3Cscript%3E", 200, NO_MATCH),
    case("like-wildcards-in-search", "GET", f"{TOOLS}?search=%25%20_", 200, NO_MATCH),
    case("5000-character-search", "GET", f"{TOOLS}?search={LONG}", 200, NO_MATCH),
    # 1000 terms fit gunicorn's 4094-byte request line; each is one more AND in the WHERE clause.
    case(
        "1000-search-terms",
        "GET",
        f"{TOOLS}?search={'z,' * 1000}",
        400,
        invalid(("search", "invalid", "Use at most 10 search terms.")),
    ),
    case(
        "unknown-pricing-tier",
        "GET",
        f"{TOOLS}?pricing_tier=bogus",
        400,
        invalid(
            ("pricing_tier", "invalid_choice", "Select a valid choice. bogus is not one of the available choices.")
        ),
    ),
    case("unknown-format", "GET", f"{TOOLS}?format=xml", 404, NOT_FOUND),
    # Pages that do not exist (DRF's PageNumberPagination; page_size is in test_invalid_page_sizes_fall_back).
    case("page-0", "GET", f"{TOOLS}?page=0", 404, INVALID_PAGE),
    case("page-negative", "GET", f"{TOOLS}?page=-1", 404, INVALID_PAGE),
    case("page-not-a-number", "GET", "/api/v1/comparisons/?page=x", 404, INVALID_PAGE),
    case("page-10-to-the-20", "GET", f"/api/v1/reviewers/the-builder/reviews/?page={10**20}", 404, INVALID_PAGE),
    case("page-past-the-end", "GET", f"{TOOLS}?page=2", 404, INVALID_PAGE),
    # Unknown and unpublished tools on every tool-scoped endpoint.
    case("unknown-tool", "GET", "/api/v1/tools/nope/", 404, NOT_FOUND),
    case("unpublished-tool", "GET", "/api/v1/tools/hidden/", 404, NOT_FOUND),
    case("unknown-tool-reviews", "GET", "/api/v1/tools/nope/reviews/", 404, NOT_FOUND),
    case("unpublished-tool-reviews", "GET", "/api/v1/tools/hidden/reviews/", 404, NOT_FOUND),
    case(
        "vote-on-unknown-tool",
        "PUT",
        "/api/v1/tools/nope/vote/",
        404,
        NOT_FOUND,
        body=b'{"verdict": "ship"}',
        caller="voter",
    ),
    case(
        "vote-on-unpublished-tool",
        "PUT",
        "/api/v1/tools/hidden/vote/",
        404,
        NOT_FOUND,
        body=b'{"verdict": "ship"}',
        caller="voter",
    ),
    case("read-vote-on-unpublished-tool", "GET", "/api/v1/tools/hidden/vote/", 404, NOT_FOUND, caller="voter"),
    case("withdraw-vote-on-unknown-tool", "DELETE", "/api/v1/tools/nope/vote/", 404, NOT_FOUND, caller="voter"),
    case(
        "no-vote-to-withdraw",
        "DELETE",
        VOTE,
        404,
        error("not_found", "You have not voted on this tool."),
        caller="voter",
    ),
    # Anonymous callers learn nothing about which tools exist.
    case("anonymous-vote-on-unknown-tool", "PUT", "/api/v1/tools/nope/vote/", 401, NO_CREDENTIALS, body=b"{}"),
    case("unknown-left-tool", "GET", "/api/v1/comparisons/nope-vs-code-llama-4/", 404, no_tool("nope")),
    case("unpublished-right-tool", "GET", "/api/v1/comparisons/code-llama-4-vs-hidden/", 404, no_tool("hidden")),
    case("third-tool-unknown", "GET", f"/api/v1/comparisons/{PAIR}-vs-nope/", 404, no_tool("nope")),
    case(
        "unknown-then-unpublished-names-the-first",
        "GET",
        f"/api/v1/comparisons/{PAIR}-vs-nope-vs-hidden/",
        404,
        no_tool("nope"),
    ),
    case("empty-third-slug", "GET", f"/api/v1/comparisons/{PAIR}-vs-/", 404, BAD_PAIR),
    case("empty-middle-slug", "GET", "/api/v1/comparisons/code-llama-4-vs--vs-mistral-large-3/", 404, BAD_PAIR),
    case("upper-case-third-slug", "GET", f"/api/v1/comparisons/{PAIR}-vs-Nope/", 404, BAD_PAIR),
    case("five-tools", "GET", "/api/v1/comparisons/a-vs-b-vs-c-vs-d-vs-e/", 400, FIVE_TOOLS),
    # Five slugs longer than four could be in all: refused by the length bound, before any parsing.
    case("five-long-tools", "GET", "/api/v1/comparisons/" + "-vs-".join(["a" * 80] * 5) + "/", 404, BAD_PAIR),
    case("tool-named-twice-of-three", "GET", f"/api/v1/comparisons/{PAIR}-vs-code-llama-4/", 400, NAMED_TWICE),
    case(
        "tool-named-thrice",
        "GET",
        "/api/v1/comparisons/code-llama-4-vs-code-llama-4-vs-code-llama-4/",
        400,
        NAMED_TWICE,
    ),
    case("upper-case-pair", "GET", "/api/v1/comparisons/Code-Llama-4-vs-mistral-large-3/", 404, BAD_PAIR),
    case("tool-compared-with-itself", "GET", "/api/v1/comparisons/code-llama-4-vs-code-llama-4/", 400, SAME_TOOL),
    case("unpublished-tool-compared-with-itself", "GET", "/api/v1/comparisons/hidden-vs-hidden/", 400, SAME_TOOL),
    # Credentials that are not credentials.
    case("garbage-bearer-token", "GET", TOOLS, 401, BAD_TOKEN, authorization="Bearer garbage"),
    case(
        "unknown-hex-bearer-token",
        "PUT",
        VOTE,
        401,
        BAD_TOKEN,
        body=b'{"verdict": "ship"}',
        authorization="Bearer " + "ab" * 32,
    ),
    case("bearer-token-with-nul", "GET", TOOLS, 401, BAD_TOKEN, authorization="Bearer ab\x00cd"),
    case(
        "bearer-without-token",
        "GET",
        "/api/v1/comparisons/",
        401,
        error("authentication_failed", "Invalid token header. No credentials provided."),
        authorization="Bearer",
    ),
    case(
        "bearer-token-with-spaces",
        "POST",
        LOGOUT,
        401,
        error("authentication_failed", "Invalid token header. Token string should not contain spaces."),
        authorization="Bearer a b",
    ),
    case("garbage-api-key", "GET", TOOLS, 401, BAD_KEY, authorization="Api-Key garbage"),
    case("api-key-without-key", "GET", f"/api/v1/comparisons/{PAIR}/", 401, BAD_KEY, authorization="Api-Key"),
    case(
        "unknown-api-key",
        "GET",
        "/api/v1/reviewers/",
        401,
        error("authentication_failed", "Unknown API key."),
        authorization="Api-Key abcdefgh." + "a" * 32,
    ),
    case("anonymous-vote", "PUT", VOTE, 401, NO_CREDENTIALS, body=b'{"verdict": "ship"}'),
    case("anonymous-logout", "POST", LOGOUT, 401, NO_CREDENTIALS),
    # Anonymous callers are refused before the method is looked at.
    case("anonymous-wrong-method-on-vote", "POST", VOTE, 401, NO_CREDENTIALS),
    # A wrong method on every route.
    case("post-categories", "POST", "/api/v1/categories/", 405, not_allowed("POST")),
    case("delete-category", "DELETE", "/api/v1/categories/developer-tools/", 405, not_allowed("DELETE")),
    case("put-vendors", "PUT", "/api/v1/vendors/", 405, not_allowed("PUT")),
    case("patch-vendor", "PATCH", "/api/v1/vendors/meta/", 405, not_allowed("PATCH")),
    case("post-tools", "POST", TOOLS, 405, not_allowed("POST"), body=b'{"slug": "new"}'),
    case("delete-tool", "DELETE", "/api/v1/tools/code-llama-4/", 405, not_allowed("DELETE"), caller="voter"),
    case("post-tool-reviews", "POST", "/api/v1/tools/code-llama-4/reviews/", 405, not_allowed("POST")),
    case("post-reviewers", "POST", "/api/v1/reviewers/", 405, not_allowed("POST")),
    case("put-reviewer", "PUT", "/api/v1/reviewers/the-builder/", 405, not_allowed("PUT")),
    case("delete-reviewer-reviews", "DELETE", "/api/v1/reviewers/the-builder/reviews/", 405, not_allowed("DELETE")),
    case("post-comparisons", "POST", "/api/v1/comparisons/", 405, not_allowed("POST")),
    case("put-comparison", "PUT", f"/api/v1/comparisons/{PAIR}/", 405, not_allowed("PUT")),
    case("get-register", "GET", REGISTER, 405, not_allowed("GET")),
    case("get-token", "GET", TOKEN, 405, not_allowed("GET")),
    case("put-verify", "PUT", VERIFY, 405, not_allowed("PUT")),
    case("get-verify-resend", "GET", RESEND, 405, not_allowed("GET"), caller="voter"),
    case("get-logout", "GET", LOGOUT, 405, not_allowed("GET"), caller="voter"),
    case("post-vote", "POST", VOTE, 405, not_allowed("POST"), body=b'{"verdict": "ship"}', caller="voter"),
    case("patch-vote", "PATCH", VOTE, 405, not_allowed("PATCH"), body=b'{"verdict": "ship"}', caller="voter"),
    case("get-subscriptions", "GET", SUBSCRIBE, 405, not_allowed("GET")),
    case("delete-confirm", "DELETE", CONFIRM, 405, not_allowed("DELETE")),
    case("put-unsubscribe", "PUT", UNSUBSCRIBE, 405, not_allowed("PUT")),
    case("post-schema-json", "POST", "/api/schema/?format=json", 405, not_allowed("POST")),
    case("post-schema", "POST", "/api/schema/", 405, not_allowed("POST")),
    case("post-docs", "POST", "/api/docs/", 405, not_allowed("POST")),
    case("delete-redoc", "DELETE", "/api/redoc/", 405, not_allowed("DELETE")),
    # Numbers in query parameters are ASCII digits only: `str.isdigit` accepts these and `int`
    # refuses some (once a 500) or reads others as numbers (Arabic-Indic one is 1).
    *[
        case(f"{param}-{name}-{path.strip('/').replace('/', '-')}", "GET", f"{path}?{param}={digit}", 404, expected)
        for path in PAGINATED
        for param, expected in (("page", INVALID_PAGE), ("page_size", INVALID_PAGE_SIZE))
        for name, digit in UNICODE_DIGITS
    ],
    # Usernames are normalised (NFKC, case-folded) before they are measured or compared.
    case(
        "register-60-ligatures-are-180-characters",
        "POST",
        REGISTER,
        400,
        invalid(("username", "max_length", AFTER_NFKC)),
        body=(
            '{"username": "' + "\ufb03" * 60 + '", "email": "newcomer@example.com", "password": "a long passphrase 42"}'
        ).encode(),
    ),
    case(
        "register-fullwidth-look-alike",
        "POST",
        REGISTER,
        400,
        invalid(("username", "unique", "A user with that username already exists.")),
        body='{"username": "ａｄａ", "email": "newcomer@example.com", "password": "a long passphrase 42"}'.encode(),
    ),
    case(
        "register-cyrillic-look-alike",
        "POST",
        REGISTER,
        400,
        invalid(("username", "confusable", LOOKS_TAKEN)),
        body='{"username": "\u0430da", "email": "newcomer@example.com", "password": "a long passphrase 42"}'.encode(),
    ),
    case(
        "register-greek-look-alike",
        "POST",
        REGISTER,
        400,
        invalid(("username", "confusable", LOOKS_TAKEN)),
        body='{"username": "\u0391da", "email": "newcomer@example.com", "password": "a long passphrase 42"}'.encode(),
    ),
    case(
        "register-mixed-script-look-alike",
        "POST",
        REGISTER,
        400,
        invalid(("username", "confusable", LOOKS_TAKEN)),
        body='{"username": "АDА", "email": "newcomer@example.com", "password": "a long passphrase 42"}'.encode(),
    ),
    # Accounts: password reset and change.
    case(
        "password-reset-not-an-email",
        "POST",
        PASSWORD_RESET,
        400,
        invalid(("email", "invalid", "Enter a valid email address.")),
        body=b'{"email": "ada"}',
    ),
    case(
        "password-reset-confirm-forged-token",
        "POST",
        PASSWORD_RESET_CONFIRM,
        400,
        BAD_LINK,
        body=b'{"token": "MQ.forged-token", "new_password": "a long passphrase 42"}',
    ),
    case(
        "password-reset-confirm-without-token",
        "GET",
        PASSWORD_RESET_CONFIRM,
        400,
        invalid(("token", "null", "This field may not be null.")),
    ),
    case(
        "password-reset-confirm-unicode-token", "GET", f"{PASSWORD_RESET_CONFIRM}?token=%C2%B2.%E2%91%A0", 400, BAD_LINK
    ),
    case("anonymous-logout-all", "POST", LOGOUT_ALL, 401, NO_CREDENTIALS),
    case(
        "anonymous-password-change",
        "POST",
        PASSWORD_CHANGE,
        401,
        NO_CREDENTIALS,
        body=b'{"old_password": "x", "new_password": "a long passphrase 42"}',
    ),
    case(
        "password-change-missing-fields",
        "POST",
        PASSWORD_CHANGE,
        400,
        invalid(("old_password", "required", REQUIRED), ("new_password", "required", REQUIRED)),
        body=b"{}",
        caller="voter",
    ),
]


def snapshot() -> dict[str, list[dict]]:
    """Every row an API request could write: accounts, tokens, the catalog, votes, subscribers, partner keys."""
    models = [get_user_model(), *(m for m in apps.get_models() if m._meta.app_label in SNAPSHOT_APPS)]
    return {model._meta.label: list(model._base_manager.order_by("pk").values()) for model in models}


@pytest.fixture(autouse=True)
def high_limits(settings) -> None:
    """Rate limits are not under test here (some cases would trip the per-IP register limit)."""
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(rates, "100000/min"),
    }


@pytest.fixture
def api() -> APIClient:
    return APIClient(raise_request_exception=False)


@pytest.fixture
def voter(seeded) -> AbstractBaseUser:
    """The seed comparison, an unpublished tool and a voter "ada"."""
    ToolFactory(slug="hidden", is_published=False)
    return UserFactory(username="ada")


@pytest.mark.parametrize("bad", CATALOG)
def test_bad_input_is_refused_exactly_and_changes_nothing(api: APIClient, voter: AbstractBaseUser, bad: Bad) -> None:
    headers = bearer(voter) if bad.caller == "voter" else {}
    if bad.authorization is not None:
        headers = {"HTTP_AUTHORIZATION": bad.authorization}
    if bad.accept is not None:
        headers["HTTP_ACCEPT"] = bad.accept
    before = snapshot()
    response = api.generic(bad.method, bad.path, bad.body, content_type=bad.content_type, **headers)
    assert response.status_code == bad.status
    assert response.json() == bad.expected
    assert snapshot() == before


@pytest.mark.parametrize(
    ("page_size", "served"),
    [("-1", None), ("0", None), ("x", None), ("", None), ("1e3", None), ("101", None), (str(10**20), None)]
    + [("100", 100), ("3", 3)],
)
def test_page_sizes(api: APIClient, page_size: str, served: int | None) -> None:
    """A page_size that is not a whole number from 1 to 100 (the schema's bounds) is refused
    like a missing page (404), never silently replaced."""
    vendor, category = VendorFactory(), CategoryFactory()
    ToolFactory.create_batch(101, vendor=vendor, category=category)
    response = api.get(f"{TOOLS}?page_size={page_size}")
    if served is None:
        assert response.status_code == 404
        assert response.json() == error("not_found", "Invalid page size: use 1 to 100.")
    else:
        assert response.status_code == 200
        assert (response.json()["count"], len(response.json()["results"])) == (101, served)


class TestIgnoredFields:
    """Writes read only their documented fields; anything else in the body changes nothing."""

    def test_a_vote_ignores_voter_tool_and_counters(self, api: APIClient, voter: AbstractBaseUser) -> None:
        victim = UserFactory()
        body = {
            "verdict": "ship",
            "voter": victim.pk,
            "tool": "mistral-large-3",
            "community": {"ship": 1000, "skip": 0, "total": 1000},
            "community_ship_count": 1000,
            "created_at": "2000-01-01T00:00:00Z",
        }
        response = api.put(VOTE, body, format="json", **bearer(voter))
        assert response.status_code == 201
        assert response.json()["tool"] == "code-llama-4"
        assert response.json()["community"] == {
            "ship": 1,
            "skip": 0,
            "total": 1,
            "ship_rate": 1.0,
            "ci95": [0.2065, 1.0],
        }
        assert list(Vote.objects.values_list("voter", "tool__slug", "verdict")) == [(voter.pk, "code-llama-4", "ship")]
        assert Vote.objects.get().created_at.year > 2000
        counters = dict(Tool.objects.values_list("slug", "community_ship_count"))
        assert counters == {"code-llama-4": 1, "mistral-large-3": 0, "hidden": 0}

    def test_register_ignores_staff_and_superuser_flags(self, api: APIClient, voter: AbstractBaseUser) -> None:
        body = {"username": "eve", "email": "eve@example.com", "password": PASSWORD, "is_staff": True}
        body |= {"is_superuser": True, "is_active": False, "email_verified_at": "2000-01-01T00:00:00Z"}
        response = api.post(REGISTER, {**body, "id": voter.pk, "groups": [1], "user_permissions": [1]}, format="json")
        assert (response.status_code, response.json()) == (201, {"username": "eve", "email": "eve@example.com"})
        assert get_user_model().objects.get(username="eve").voter.email_verified_at is None
        eve = get_user_model().objects.get(username="eve")
        assert (eve.is_staff, eve.is_superuser, eve.is_active) == (False, False, True)
        assert eve.pk != voter.pk
        assert not eve.groups.exists() and not eve.user_permissions.exists()

    def test_a_subscription_ignores_its_status(self, api: APIClient, voter: AbstractBaseUser) -> None:
        body = {"email": "reader@example.com", "status": "confirmed", "confirmed_at": "2000-01-01T00:00:00Z"}
        assert api.post(SUBSCRIBE, body, format="json").status_code == 202
        subscriber = Subscriber.objects.get()
        assert (subscriber.status, subscriber.confirmed_at) == (SubscriberStatus.PENDING, None)
