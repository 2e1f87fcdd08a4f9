"""The SMS gateway's webhook body, read whatever it holds: JSON or form-encoded
fields (`sender` standing for `from`), text in any encoding. Nothing here refuses a
message: what cannot be read as a field is kept as the text, so it is logged."""
import base64
import json
from urllib.parse import parse_qsl

from services.hotline.schemas import TEXT_LIMIT

RAW_LIMIT = 1 << 20


def inbound_message(request):
    """{"sender", "text", "gateway_id", "received_at", "raw_base64"} from the body."""
    body = request.get_data()
    decoded, raw = _decoded(body)
    fields = _json_fields(decoded) if _looks_json(request, decoded) else None
    if fields is None:
        fields = _form_fields(body)
    if not fields.get("text") and not fields.get("from") and not fields.get("sender"):
        fields = {"text": decoded}  # neither JSON nor a form: the body is the message
    text = _as_text(fields.get("text"))
    return {"sender": _as_text(fields.get("from") or fields.get("sender"))[:200],
            "text": text[:TEXT_LIMIT],
            "gateway_id": _as_text(fields.get("id"))[:200] or None,
            "received_at": _as_text(fields.get("received_at"))[:100] or None,
            # The bytes as sent, when the text could not hold them (to a limit).
            "raw_base64": base64.b64encode(body[:RAW_LIMIT]).decode()
            if raw or len(text) > TEXT_LIMIT else None}


def _looks_json(request, decoded):
    return request.mimetype == "application/json" or decoded.lstrip().startswith("{")


def _decoded(data):
    """(text, whether some bytes were not UTF-8)."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace"), True


def _json_fields(decoded):
    try:
        body = json.loads(decoded)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _form_fields(body):
    # Bytes through latin-1 and back, so each value is decoded on its own.
    pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    return {name: _decoded(value.encode("latin-1"))[0] for name, value in pairs}


def _as_text(value):
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
