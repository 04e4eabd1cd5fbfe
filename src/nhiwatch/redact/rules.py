"""The one list of secret patterns: what each kind looks like, what part of it is kept, and examples.

Every rule is written in the subset both engines read the same way (Python ``re`` and RE2, which DuckDB
uses): no look-arounds, no back-references, no ``\\b``/``\\w``/``\\d`` (Unicode-aware in Python, ASCII in
RE2), no ``$`` (Python also matches before a final newline), ``\\s`` rewritten to RE2's set, and case
folding only on literal names (``(?i:password)``) so value classes stay exact. A boundary that would
need a look-around is matched as a kept group (``(^|[^A-Za-z0-9])``) and put back by the replacement.

``keep`` is the replacement: ``\\1`` (and ``\\2``) keep the part that names the secret (``ghp_``,
``"password": "``), so evidence stays readable and a redacted text is redacted again to itself.
``trigger`` is a cheap necessary condition: text no trigger matches is returned untouched without running
the rules (the ingest hot path), so a trigger must match wherever its rule does (a test checks this).
``examples`` are (text, secret) pairs: the secret must be gone after redaction; ``keeps`` are near misses
that must come out unchanged (identifiers attribution needs: AKIA key ids, token ids, client ids, SHAs).
"""

from __future__ import annotations

from dataclasses import dataclass

MASK = "[REDACTED]"


@dataclass(frozen=True)
class Rule:
    kind: str
    pattern: str
    keep: str
    trigger: str
    examples: tuple[tuple[str, str], ...]
    keeps: tuple[str, ...] = ()


# Names whose value is a secret whatever it looks like (a JSON key, exactly, any case, _ or - optional).
_SECRET_NAMES = (
    r"password|passwd|passphrase|pwd|secret|client[_-]?secret|app[_-]?secret|api[_-]?secret|"
    r"consumer[_-]?secret|secret[_-]?key|secret[_-]?access[_-]?key|aws[_-]?secret[_-]?access[_-]?key|"
    r"api[_-]?key|x-api-key|api[_-]?token|access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|"
    r"session[_-]?token|security[_-]?token|x-amz-security-token|private[_-]?key|token|authorization|"
    r"proxy-authorization|signing[_-]?secret|webhook[_-]?secret|account[_-]?key|shared[_-]?access[_-]?key|"
    r"connection[_-]?string|client[_-]?assertion|sig|signature|x-amz-signature|cookie"
)
# Name endings that make any value secret (dbPassword, appSecret, stripe_api_key) ...
_SECRET_ENDINGS = (
    r"password|passwd|passphrase|pwd|secret|private[_-]?key|api[_-]?key|apikey|client[_-]?assertion|"
    r"connection[_-]?string"
)
# ... and endings that make a long token-shaped value secret (github_token, SharedAccessKey, X-Amz-Signature;
# a short or spaced value in such a field, "tokenType": "Bearer", is kept).
_SECRETISH_ENDINGS = r"token|access[_-]?key|secret[_-]?key|signing[_-]?key|account[_-]?key|sig|signature"
_JSON_NAME = r"(?:[A-Za-z0-9_.-]*(?i:" + _SECRET_ENDINGS + r")|(?i:" + _SECRET_NAMES + r"))"
_TOKEN_CHARS = r"[A-Za-z0-9+/=_.~-]"
# Triggers of the named rules: the name and its separator, as precise as stays cheap (a name such as
# LOGIN_KEY or resultSignature that no rule redacts should not send a record through the whole chain).
_T_JSON = r"\"(?i:" + _SECRET_NAMES + r")\\*\"\s*:|(?i:" + _SECRET_ENDINGS + r")\\*\"\s*:"
_T_JSONISH = r"(?i:" + _SECRETISH_ENDINGS + r")\\*\"\s*:\s*\\*\"" + _TOKEN_CHARS + "{16}"
_T_KV = r"(?i:" + _SECRET_ENDINGS + "|" + _SECRETISH_ENDINGS + r")="
_HEADERS = r"authorization|proxy-authorization|x-api-key|api-key|x-auth-token|private-token"
_AWS_KEY_ID = r"(?:AKIA|ASIA)[A-Z0-9]{16}"

GHP = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_ID = "AKIAIOSFODNN7EXAMPLE"
GOOGLE = "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
SHA = "9fceb02d0ae598e95dc970b74767f19372d61af8"
UUID = "123e4567-e89b-12d3-a456-426614174000"

RULES: tuple[Rule, ...] = (
    Rule(
        "pem_private_key",
        # The whole block; without an END (a cut record) up to the first character a key body cannot hold.
        r"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)(?:[A-Za-z0-9+/=:,. \t\r\n-]|\\+[nrt/])+",
        r"\1" + MASK,
        r"PRIVATE KEY",
        (
            (f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----\n", PEM_BODY),
            (f'{{"k": "-----BEGIN PRIVATE KEY-----\\n{PEM_BODY}\\n-----END PRIVATE KEY-----\\n"}}', PEM_BODY),
            (f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY[:30]}", PEM_BODY[:30]),
        ),
        (f"-----BEGIN PUBLIC KEY-----\n{PEM_BODY}\n-----END PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----"),
    ),
    Rule(
        "github_token",
        r"(gh[pousr]_)[A-Za-z0-9]{20,}",
        r"\1" + MASK,
        r"gh[pousr]_[A-Za-z0-9]{20}",
        ((f"token {GHP} used", GHP[4:]), ("ghs_" + "x" * 36, "x" * 36), ("gho_" + "Ab1" * 12, "Ab1" * 12)),
        ("ghp_short", "the ghost_town", "ghx_" + "a" * 36),
    ),
    Rule(
        "github_pat",
        r"(github_pat_)[A-Za-z0-9_]{20,}",
        r"\1" + MASK,
        r"github_pat_",
        (("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "11ABCDEFG0123456789_abc"),),
    ),
    Rule(
        "slack_token",
        r"(xox[abeoprs]-|xapp-)[A-Za-z0-9-]{8,}",
        r"\1" + MASK,
        r"xox[abeoprs]-|xapp-",
        (("slack xoxb-1234567890-abcdefghij posted", "1234567890-abcdefghij"),),
        ("xoxo hugs", "xoxb-"),
    ),
    Rule(
        "slack_webhook",
        # The team and bot ids stay (they name the workspace); the last segment is the secret.
        r"(hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/)[A-Za-z0-9_]+",
        r"\1" + MASK,
        r"hooks\.slack\.com/",
        (("https://hooks.slack.com/services/T0001/B0002/XXXXXXXXXXXXXXXXXXXXXXXX", "X" * 24),),
        ("https://hooks.slack.com/", "slack.com/services/T0001"),
    ),
    Rule(
        "slack_workflow_webhook",
        r"(hooks\.slack\.com/(?:workflows|triggers)/)[A-Za-z0-9_/-]+",
        r"\1" + MASK,
        r"hooks\.slack\.com/",
        (("POST https://hooks.slack.com/triggers/T01/123/abcdef0123456789", "abcdef0123456789"),),
    ),
    Rule(
        "google_api_key",
        r"(AIza)[0-9A-Za-z_-]{35,}",
        r"\1" + MASK,
        r"AIza",
        ((f"?key={GOOGLE}&x=1", GOOGLE[4:]), (f'"k":"{GOOGLE}"', GOOGLE[4:])),
        ("AIza" + "x" * 20,),
    ),
    Rule(
        "stripe_key",
        r"((?:sk|rk)_(?:live|test)_|whsec_)[0-9A-Za-z]{16,}",
        r"\1" + MASK,
        r"_live_|_test_|whsec_",
        (
            ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc"),
            ("rk_test_" + "a1" * 12, "a1" * 12),
        ),
        ("pk_live_4eC39HqLyjWDarjtT1zdp7dc",),
    ),
    Rule(
        "twilio_api_key",
        # SK + 32 hex is the API key secret's sid pair; AC + 32 hex (the account sid) is an identifier.
        # Any case: hex means the same lowercased (a host name column is lowercased by the mapping).
        r"((?:^|[^A-Za-z0-9])(?i:sk))[0-9a-fA-F]{32}",
        r"\1" + MASK,
        r"(?i:sk)[0-9a-fA-F]{32}",
        (
            ("key SK" + "0123456789abcdef" * 2, "0123456789abcdef" * 2),
            ("h.sk" + "0123456789abcdef" * 2, "cdef01"),
        ),
        ("AC" + "0123456789abcdef" * 2, "TASK" + "0123456789abcdef" * 2),
    ),
    Rule(
        "jwt",
        r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
        MASK,
        r"eyJ[A-Za-z0-9_-]{8,}\.eyJ",
        ((f"id {JWT} end", JWT),),
        ("eyJhbGciOiJIUzI1NiJ9",),
    ),
    Rule(
        "bearer",
        r"((?i:bearer)\s+)[A-Za-z0-9._~+/=-]{8,}",
        r"\1" + MASK,
        r"(?i:bearer)\s",
        (("Authorization: Bearer abcdefgh12345678", "abcdefgh12345678"),),
        ("bearer bond",),
    ),
    Rule(
        "aws_secret_named",
        r"((?i:secret_?(?:access_?)?key)[\\\"'\s]*(?::|=>?)[\\\"'\s]*)[A-Za-z0-9/+]{40}",
        r"\1" + MASK,
        r"(?i:secret_?(?:access_?)?key)",
        (
            (f"SecretAccessKey: {AWS_SECRET}", AWS_SECRET),
            (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", AWS_SECRET),
            (f"{{'secret_key' => '{AWS_SECRET}'}}", AWS_SECRET),
        ),
    ),
    Rule(
        "aws_secret_after_key_id",
        # A 40-character value right after an access key id (a credentials CSV, "id / secret" in a note);
        # from 30 characters on, so a value cut short by a quoting limit is still masked.
        rf"({_AWS_KEY_ID}[^A-Za-z0-9+]{{1,8}})[A-Za-z0-9/+]{{30,}}",
        r"\1" + MASK,
        r"A[KS]IA[A-Z0-9]{16}[^A-Za-z0-9+]{1,8}[A-Za-z0-9/+]{30}",
        (
            (f"{AWS_ID},{AWS_SECRET}", AWS_SECRET),
            (f'["{AWS_ID}", "{AWS_SECRET}"]', AWS_SECRET),
            (f"rotated {AWS_ID} / {AWS_SECRET} today", AWS_SECRET),
            (f'unparseable timestamp: "{AWS_ID} {AWS_SECRET[:35]}', AWS_SECRET[:35]),
        ),
        (AWS_ID, f"{AWS_ID} {SHA[:20]}", f"Credential={AWS_ID}/20250901/us-east-1/s3/aws4_request"),
    ),
    Rule(
        "aws_secret_before_key_id",
        rf"(^|[^A-Za-z0-9/+])[A-Za-z0-9/+]{{40}}([^A-Za-z0-9/+=]{{1,8}}{_AWS_KEY_ID})",
        r"\1" + MASK + r"\2",
        # Only the secret's last character before the separators: a 40-character count in the trigger made
        # DuckDB's automaton ~25 % slower on every text ingested, and this still holds wherever the rule does.
        r"[A-Za-z0-9/+][^A-Za-z0-9/+=]{1,8}A[KS]IA[A-Z0-9]{16}",
        ((f"{AWS_SECRET} {AWS_ID}", AWS_SECRET),),
        (f"{SHA} is a commit, {AWS_ID} a key id",),
    ),
    Rule(
        "url_credentials",
        r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s\"']+:)[^/\s\"']+@",
        r"\1" + MASK + "@",
        r"://[^/@\s\"']+:[^/\s\"']+@",
        (
            ("GET https://admin:hunter2@example.com/x", "hunter2"),
            ("postgres://app:p@ss@db:5432/x", "p@ss"),
        ),
        ("https://example.com:8443/x", "mailto:a@example.com"),
    ),
    Rule(
        "json_secret_field",
        r"(\"" + _JSON_NAME + r"\"\s*:\s*\")(?:[^\"\\]|\\.)+",
        r"\1" + MASK,
        _T_JSON,
        (
            ('{"client_secret": "s3cr3t-value", "client_id": "0oa1abc"}', "s3cr3t-value"),
            ('{"Password":"a\\"b c"}', "b c"),
            ('{"dbPassword":"Tr0ub4dor&3 x"}', "Tr0ub4dor"),
            ('{"x-api-key":"k-123"}', "k-123"),
        ),
        ('{"token_id": 123, "client_id": "0oa1abc"}', '{"password": ""}', '{"hashed_token": "abc="}'),
    ),
    Rule(
        "json_secret_field_escaped",
        # The same inside a JSON string that holds JSON (\"password\":\"...\"): the value ends at \".
        r"(\\+\"" + _JSON_NAME + r"\\+\"\s*:\s*\\+\")(?:[^\"\\]|\\+[^\"\\])+",
        r"\1" + MASK,
        _T_JSON,
        (('"{\\"password\\":\\"s3cret\\",\\"user\\":\\"x\\"}"', "s3cret"),),
        ('"{\\"user\\":\\"x\\"}"',),
    ),
    Rule(
        "json_secretlike_field",
        # High-entropy stand-in for fields only named like secrets (github_token, SharedAccessKey): a value of
        # 16+ token characters and nothing else. Short values and prose in such fields are kept.
        r"(\\*\"[A-Za-z0-9_.-]*(?i:"
        + _SECRETISH_ENDINGS
        + r")\\*\"\s*:\s*\\*\")"
        + _TOKEN_CHARS
        + r"{16,}(\\*\")",
        r"\1" + MASK + r"\2",
        _T_JSONISH,
        (
            ('{"github_token": "0123456789abcdef0123"}', "0123456789abcdef0123"),
            (f'{{"SharedAccessKey":"{UUID}"}}', UUID),
        ),
        ('{"tokenType": "Bearer"}', '{"hashed_token": "abc="}', '{"nextPageToken": "short"}'),
    ),
    Rule(
        "key_value",
        # name=value in query strings, form bodies, connection strings and log lines (also Azure SAS sig=).
        # (the name starts at a boundary, kept in group 1: a name class free to start anywhere is quadratic)
        r"((?:^|[^A-Za-z0-9_.-])[A-Za-z0-9_.-]*(?i:" + _SECRET_ENDINGS + "|" + _SECRETISH_ENDINGS + r")=)"
        r"[^&\s\"',;]+",
        r"\1" + MASK,
        _T_KV,
        (
            ("GET /x?access_token=abc123&page=2", "abc123"),
            ("https://a.blob.core.windows.net/c/b?sv=2022-11-02&sp=r&sig=AbC%2BdEf%3D", "AbC%2BdEf%3D"),
            (
                "AccountName=acme;AccountKey=bm90LWEta2V5LWJ1dC1sb25nLWVub3VnaA==;EndpointSuffix=x",
                "bm90LWEta2V5",
            ),
            ("login password=hunter2 ok", "hunter2"),
            ("GITHUB_TOKEN=abcdef", "abcdef"),
        ),
        ("page=2&per_page=100", "max_tokens=100", "token_id=42", "key=value"),
    ),
    Rule(
        "auth_header",
        r"((?i:" + _HEADERS + r")\s*:\s*)"
        # an optional scheme word (Basic, Bearer, token) and the credential; a mask is never a scheme, so the
        # text after a masked value is left alone on a second pass
        r"(?:[A-Za-z][A-Za-z0-9-]*[ \t]+)?[^\s\"',;]+",
        r"\1" + MASK,
        r"(?i:" + _HEADERS + r")\s*:",
        (("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"), ("X-Api-Key: abcdef", "abcdef")),
    ),
    Rule(
        "cookie_header",
        r"((?i:set-cookie|cookie)\s*:\s*)[^\r\n\"]+",
        r"\1" + MASK,
        r"(?i:set-cookie|cookie)\s*:",
        (("Cookie: session=abc123; theme=dark", "abc123"),),
    ),
    Rule(
        "password_colon",
        r"((?i:password|passwd|passphrase|pwd|secret)\s*:\s*)[^\s\"',;]+",
        r"\1" + MASK,
        r"(?i:password|passwd|passphrase|pwd|secret)\s*:",
        (("connect with password: hunter2", "hunter2"),),
        ("secret santa",),
    ),
)

# Near misses no rule may touch, whatever the surroundings.
IDENTIFIERS: tuple[str, ...] = (AWS_ID, SHA, UUID, "AC" + "0123456789abcdef" * 2, "0oa1abc2def3ghi4jk5")

__all__ = ["IDENTIFIERS", "MASK", "RULES", "Rule"]
