"""Every sentence a person reads about Xero and the connection: the one module for words.

Pages, emails, job summaries and the health check take their sentences from here, so one
situation has one name everywhere and every next step fits the reader's role:

- `STATE_NAMES` / `state_name(code)`: the one name of each connection state (status pill,
  Refresh lists failure page, portal, emails);
- `STATE_FACTS`: what each state means, with no instruction (the instruction depends on who reads);
- `next_step(action, is_admin=…, admin_names=…)`: an Admin is told to press the button, a
  Member whom to ask, by name;
- `situation(key, …)`: the health check's situations (title, explanation, next step by audience);
- `message_for(error)`: a Xero failure in plain words with the one next step;
- `role_phrase`, `names_or`, `scope_words`, `last_checked`: small pieces pages need.
"""
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from .xero import errors

# --- connection states: one name each --------------------------------------------------------

CONNECTED = "connected"
NEEDS_RECONNECT = "needs_reconnect"
REMOVED_IN_XERO = "removed_in_xero"
NOT_CONNECTED = "not_connected"

STATE_NAMES = {
    CONNECTED: "Connected",
    NEEDS_RECONNECT: "Needs reconnect",
    REMOVED_IN_XERO: "Removed in Xero",
    NOT_CONNECTED: "Not connected to Xero",
}

SIGN_IN_NOT_ACCEPTED = "Xero no longer accepts this connection's sign-in"
# A stored token no key in TOKEN_ENCRYPTION_KEYS opens (the key was removed too early).
SIGN_IN_UNREADABLE = "The stored Xero sign-in can no longer be read with this app's encryption keys"
# A webhook endpoint's signing secret no key in TOKEN_ENCRYPTION_KEYS opens: nothing is sent unsigned.
WEBHOOK_SECRET_UNREADABLE = ("Not sent: this endpoint's signing secret can no longer be read with the app's "
                             "encryption keys (a key was removed). Ask the platform's operators to put the key "
                             "back, or add the endpoint again to get a new secret.")
PLATFORM_ENDPOINTS_STAFF_ONLY = "Webhook endpoints for every organisation are made by platform staff in the admin."
# The API's 404 when Django's get_object_or_404 would name an internal model.
API_NOT_FOUND = "Not found, or not within what this key may reach."
REMOVED_FACT = "The app was removed from Xero's Connected Apps for this organisation"

STATE_FACTS = {
    CONNECTED: "Xero is connected.",
    NEEDS_RECONNECT: f"{SIGN_IN_NOT_ACCEPTED}: it expired, was revoked, or was replaced.",
    REMOVED_IN_XERO: f"{REMOVED_FACT} (someone pressed Disconnect in Xero, or it shows greyed out there).",
    NOT_CONNECTED: "This organisation is not connected to Xero.",
}

# Sentences more than one page, email, command or service says.
SIGN_IN_CANCELLED = "You cancelled the sign-in to Xero."
SIGN_IN_REFUSED = "Xero refused the sign-in."
CONNECT_BEFORE_MAPPING = "Connect Xero first: the mapping is made against its chart of accounts."
ACCOUNTS_STILL_IMPORTING = ("Xero's chart of accounts is still being imported, so there is nothing to choose from "
                            "yet. Reload this page in a few seconds.")
RECONCILE_ACTION = "Check exported documents in Xero (voided, changed, paid)"
SAVE_AS_CSV_UTF8 = "Save it as “CSV UTF-8” and try again."
NOTHING_HAPPENED_YET = "Nothing has happened yet."


def state_name(code: str) -> str:
    """The one name of a connection state code (ConnectionStatus value or "not_connected")."""
    return STATE_NAMES.get(code, STATE_NAMES[NOT_CONNECTED])


# --- who reads -------------------------------------------------------------------------------

ROLE_PHRASES = {"admin": "an Admin", "member": "a Member"}


def role_phrase(role: str | None) -> str:
    """"an Admin" / "a Member" (English articles; `role` is a Role value)."""
    return ROLE_PHRASES.get(role or "", "not a member")


def names_or(names) -> str:
    """["Alice Admin", "Hamish", "Bea"] → "Alice Admin, Hamish or Bea"; [] → "your support team"."""
    names = [n for n in names if n]
    if not names:
        return "your support team"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


# action -> (the button an Admin presses, what a Member asks an Admin to do)
_ADMIN_ACTIONS = {
    "connect": ("Connect to Xero", "connect Xero"),
    "reconnect": ("Reconnect", "press Reconnect"),
    "reconnect_allow": ("Reconnect", "press Reconnect and allow every permission"),
    "disconnect": ("Disconnect", "disconnect Xero"),
    "reexport": ("Re-export", "re-export documents already in Xero"),
    "map": ("Account mapping", "map the categories on the Account mapping page"),
}
_ADMIN_STEPS = {
    "connect": "Press Connect to Xero, sign in and select your organisation.",
    "reconnect": "Press Reconnect and sign in to Xero. You don't need to remove the old entry in Xero first: "
                 "Reconnect clears it for you. Waiting exports then go out by themselves.",
    "reconnect_allow": "Press Reconnect and, on Xero's page, allow every permission asked for.",
}


def button_for(action: str) -> str:
    """The label of the button an Admin presses for `action` ("Reconnect", "Connect to Xero", …)."""
    return _ADMIN_ACTIONS[action][0]


def ask_admins(action: str, *, admin_names) -> str:
    """The Member's sentence: "Ask Alice Admin (an Admin) to press Reconnect."."""
    names = list(admin_names)
    who = names_or(names)
    label = "" if not names else (" (an Admin)" if len(names) == 1 else " (Admins)")
    return f"Ask {who}{label} to {_ADMIN_ACTIONS[action][1]}."


def next_step(action: str, *, is_admin: bool, admin_names=()) -> str:
    """The one next step for `action` (connect / reconnect / reconnect_allow), worded for the
    reader: an Admin is told which button to press, anyone else whom to ask, by name."""
    if is_admin:
        return _ADMIN_STEPS[action]
    return ask_admins(action, admin_names=admin_names)


def admin_only(action_label: str, *, admin_names) -> str:
    """A Member meeting an Admin-only action: "Only an Admin can <label>. Ask Alice Admin."."""
    return f"Only an Admin can {action_label}. Ask {names_or(admin_names)}."


# --- permissions, in words -------------------------------------------------------------------

SCOPE_WORDS = {
    "openid": "confirm who signed in to Xero",
    "profile": "see the Xero user's name",
    "email": "see the Xero user's email address",
    "offline_access": "stay connected without signing in every 30 minutes",
    "accounting.settings": "read the chart of accounts, tax rates, currencies and tracking categories",
    "accounting.settings.read": "read the chart of accounts, tax rates, currencies and tracking categories",
    "accounting.contacts": "read and add contacts",
    "accounting.contacts.read": "read contacts",
    "accounting.transactions": "create and update invoices, bills, credit notes, payments and journals",
    "accounting.invoices": "create and update invoices, bills and credit notes",
    "accounting.payments": "create payments",
    "accounting.manualjournals": "create and update manual journals",
    "accounting.banktransactions": "create bank transactions",
}


def scope_words(scopes) -> list[str]:
    """Xero scope ids (a space-separated string or an iterable) → what the product may do in
    Xero, one phrase each, in the order given; unknown scopes are shown as their id.
    Scope meanings: developer.xero.com/documentation/guides/oauth2/scopes."""
    if isinstance(scopes, str):
        scopes = scopes.split()
    out: list[str] = []
    for scope in scopes:
        words = SCOPE_WORDS.get(scope, scope)
        if words not in out:
            out.append(words)
    return out


# --- "when last checked" ---------------------------------------------------------------------

def at_time(moment: datetime, *, now: datetime | None = None) -> str:
    """"22:15" today, "28 Nov 22:15" otherwise (local time)."""
    local = timezone.localtime(moment)
    today = timezone.localtime(now or timezone.now()).date()
    return local.strftime("%H:%M") if local.date() == today else f"{local.day} {local:%b %H:%M}"


def last_checked(code: str, checked_at: datetime | None, *, now: datetime | None = None) -> str:
    """What the status card knows and since when: "Working when last checked at 22:15"."""
    if code == NOT_CONNECTED:
        return STATE_FACTS[NOT_CONNECTED]
    if checked_at is None:
        return ("Connected; not checked with Xero yet." if code == CONNECTED
                else f"{STATE_NAMES[code]}: {STATE_FACTS[code]}")
    when = at_time(checked_at, now=now)
    if code == CONNECTED:
        return f"Working when last checked at {when}."
    return f"{STATE_NAMES[code]} when last checked at {when}: {STATE_FACTS[code]}"


def waiting_reason(code: str) -> str:
    """The short, neutral reason on a ledger row that waits for the connection in state `code`
    (the banner above the ledger explains the rest)."""
    if code == CONNECTED:
        return "Going out by itself now."
    if code == NOT_CONNECTED:
        return "Goes out once Xero is connected."
    return "Goes out once Xero is reconnected."


# --- the health check's situations -----------------------------------------------------------

def situation(key: str, *, tenant: str = "", is_admin: bool, admin_names=(), retry_at=None, missing=(),
              waiting: int = 0, detail: str = "") -> dict:
    """One diagnosis situation in words: {"title", "words", "severity", "action", "next_step"}.

    `key` is one of working / not_connected / needs_reconnect / removed_in_xero /
    connected_here_not_there / missing_scopes / rate_limited / xero_down / app_refused. The next
    step fits the reader (`is_admin`); `action` becomes "ask_admin" for non-Admins where an Admin
    must act. Limits quoted are Xero's documented 60 calls a minute and 5,000 a day per
    organisation (developer.xero.com/documentation/guides/oauth2/limits)."""
    when = timezone.localtime(retry_at).strftime("%H:%M") if retry_at else "a minute or so"
    waiting_words = (f" {waiting} queued export{'s' if waiting != 1 else ''} will go out once connected."
                     if waiting else " Queued exports will go out once connected.")
    table = {
        "working": dict(
            title="It is working", severity="ok", action="none",
            words=f"Xero is connected to {tenant} and answering. If the integration works, you don't need to "
                  f"disconnect and reconnect — even if an old error message is still displayed.",
            step=None, admin="Nothing to do.", member="Nothing to do."),
        "not_connected": dict(
            title=STATE_NAMES[NOT_CONNECTED], severity="off", action="connect",
            words="This organisation is not connected to Xero, so nothing can be exported." + waiting_words,
            step="connect"),
        "needs_reconnect": dict(
            title="Xero needs you to sign in again", severity="bad", action="reconnect",
            words=f"{SIGN_IN_NOT_ACCEPTED}: it expired (unused for 60 days), was revoked, "
                  "or the Xero login details changed. Exports wait in the queue.",
            step="reconnect"),
        "removed_in_xero": dict(
            title="The app was disconnected in Xero", severity="bad", action="reconnect",
            words=f"Xero refuses access to {tenant} and no longer lists this app in its Connected Apps (someone "
                  f"pressed Disconnect in Xero, or the organisation shows greyed out there). Exports wait in the "
                  f"queue.",
            step="reconnect"),
        "connected_here_not_there": dict(
            title="Connected here, but disconnected in Xero", severity="bad", action="reconnect",
            words=f"We still hold a sign-in for {tenant}, but Xero no longer lists the connection in its Connected "
                  f"Apps, so it may stop working at any moment.",
            step="reconnect"),
        "missing_scopes": dict(
            title="Xero did not grant every permission", severity="bad", action="reconnect",
            words="The connection lacks permissions this product needs"
                  + (f": {'; '.join(scope_words(sorted(missing)))}." if missing else ".")
                  + (f" {detail}" if detail else ""),
            step="reconnect_allow"),
        "rate_limited": dict(
            title="Xero asked us to slow down", severity="warn", action="wait",
            words="This organisation reached one of Xero's call limits (60 a minute, 5,000 a day).",
            step=None, admin=f"Wait until {when}: waiting items go out by themselves. No need to reconnect.",
            member=f"Wait until {when}: waiting items go out by themselves. No need to reconnect."),
        "xero_down": dict(
            title="Xero is not answering right now", severity="warn", action="wait",
            words="Xero did not answer (maintenance or a network hiccup). The connection itself looks fine. "
                  + (detail or ""),
            step=None,
            admin="Wait and run Diagnose again later; no need to reconnect. Exports go out by themselves once Xero "
                  "answers.",
            member="Wait and run Diagnose again later; no need to reconnect."),
        "app_refused": dict(
            title="Xero refused this app's credentials", severity="bad", action="support",
            words="Xero's sign-in service refused the app itself (its client id or secret). " + (detail or ""),
            step=None, admin="Contact support: the app's Xero credentials need fixing. Reconnecting will not help.",
            member="Contact support: the app's Xero credentials need fixing."),
    }
    entry = table[key]
    if entry["step"]:
        step = next_step(entry["step"], is_admin=is_admin, admin_names=admin_names)
    else:
        step = entry["admin"] if is_admin else entry["member"]
    return {"title": entry["title"], "words": entry["words"].strip(), "severity": entry["severity"],
            "action": entry["action"] if is_admin or entry["action"] not in ("connect", "reconnect") else "ask_admin",
            "next_step": step}


# --- Xero failures ---------------------------------------------------------------------------

@dataclass(frozen=True)
class UserMessage:
    title: str
    explanation: str
    next_step: str
    action: str  # reconnect / ask_admin / wait / fix_data / retry / none
    severity: str = "warn"  # ok / warn / bad

    def __str__(self):
        return f"{self.title}. {self.explanation} {self.next_step}"


RECONNECT_THIRD_PERSON = ("An Admin should press Reconnect and sign in to Xero. Waiting exports will then go out "
                          "by themselves.")


def _reconnect_step(default: str, action: str, is_admin: bool | None, admin_names) -> str:
    if is_admin is None:  # stored text read by anyone (ledger reasons, job summaries): third person
        return default
    return next_step(action, is_admin=is_admin, admin_names=admin_names or ())


def message_for(error: Exception, *, retry_at=None, is_admin: bool | None = None, admin_names=()) -> UserMessage:
    """A Xero failure (xero.errors.*) in plain words with the one next step.

    With `is_admin` given, steps that need an Admin are worded for the reader (press the button,
    or ask the named Admins); without it (text stored for anyone to read) they say "An Admin
    should press Reconnect"."""
    if isinstance(error, errors.ReauthorisationRequired):
        return UserMessage(
            "Xero needs you to sign in again",
            STATE_FACTS[NEEDS_RECONNECT],
            _reconnect_step(RECONNECT_THIRD_PERSON, "reconnect", is_admin, admin_names),
            "reconnect", "bad")
    if isinstance(error, errors.ConnectionRevoked):
        return UserMessage(
            "The app was disconnected in Xero",
            "Xero refused access to this organisation: the app was removed from Xero's Connected Apps.",
            _reconnect_step("An Admin should press Reconnect and select the organisation again. Waiting exports "
                            "will then go out by themselves.", "reconnect", is_admin, admin_names),
            "reconnect", "bad")
    if isinstance(error, errors.AccessDenied):
        return UserMessage(
            "Xero did not grant a permission this needs",
            f"Xero answered: {error.detail or error}.",
            _reconnect_step("An Admin should press Reconnect and allow every permission Xero asks for.",
                            "reconnect_allow", is_admin, admin_names), "reconnect", "bad")
    if isinstance(error, errors.RateLimited):
        when = f" after {retry_at:%H:%M:%S}" if retry_at else f" in about {int(error.retry_after)} seconds"
        return UserMessage(
            "Xero asked us to slow down",
            f"Xero limits how many calls an app makes per organisation ({error.problem or 'rate'} limit reached).",
            f"Nothing to do: waiting items go out by themselves{when}.", "wait")
    if isinstance(error, errors.ValidationFailed):
        msgs = "; ".join(error.messages) or str(error)
        return UserMessage(
            "Xero refused this document", f"Xero said: {msgs}",
            "Fix the document (or the lists it uses) and press Retry.", "fix_data")
    if isinstance(error, errors.XeroUnavailable):
        return UserMessage(
            "Xero is not answering right now",
            f"{error} This is usually brief (maintenance or a network hiccup).",
            "Nothing to do: we retry by itself, and nothing is sent twice.", "wait")
    if isinstance(error, errors.OAuthError):
        return UserMessage(
            "Xero refused the sign-in", f"Xero said: {error}.",
            "Try again; if it keeps failing, contact support (the app's Xero credentials may be wrong).", "retry", "bad")
    if isinstance(error, errors.NotFound):
        return UserMessage("Xero could not find it", str(error), "Export it again.", "retry")
    return UserMessage("Something went wrong talking to Xero", str(error), "Try again in a moment.", "retry")


def not_connected_message(code: str, *, reading_lists: bool = True) -> UserMessage:
    """Why Xero cannot be read for a connection in state `code`, titled with the state's one name."""
    if code == NEEDS_RECONNECT:
        base = message_for(errors.ReauthorisationRequired())
    elif code == REMOVED_IN_XERO:
        base = message_for(errors.ConnectionRevoked())
    else:
        return UserMessage(
            STATE_NAMES[NOT_CONNECTED],
            "This organisation is not connected to Xero" + (", so its lists cannot be read." if reading_lists else "."),
            "An Admin should press Connect to Xero on the Integrations page; currencies and account codes are then "
            "imported by themselves, and Refresh lists reads the rest.", "connect", "bad")
    return UserMessage(STATE_NAMES[code], base.explanation, base.next_step, "reconnect", "bad")


# --- names of runs and jobs ------------------------------------------------------------------

REFRESH_TRIGGER_NAMES = {
    "connect": "Imports after connecting",
    "manual": "Refresh lists",
    "schedule": "Scheduled refresh",
    "command": "Refresh from the command line",
    "bulk": "Refresh lists (bulk action)",
}


def refresh_name(trigger: str) -> str:
    """The one name of a lists run by its ListRefresh.Trigger value (page title, history, links)."""
    return REFRESH_TRIGGER_NAMES.get(trigger, "Refresh lists")


JOB_NAMES = {
    "export_selected": "Export selected",
    "export_range": "Export everything not yet exported",
    "retry_failed": "Retry failed",
    "reexport": "Re-export",
    "refresh_lists": "Refresh lists",
    "health_check": "Health check",
}


def job_name(kind: str, *, total: int | None = None) -> str:
    """The name of a BulkJob by kind, after the button that started it: a one-item "Export
    selected" job is the row's **Export** button, so it is called "Export"."""
    if kind == "export_selected" and total == 1:
        return "Export"
    return JOB_NAMES.get(kind, kind)


PORTAL_NAME = "Your organisations"  # the portal: navigation link, page title and heading


# --- drift: what changed in Xero after an export (#16) ---------------------------------------

# The ledger's "In Xero" column: one name per drift state (models.XeroDrift values).
DRIFT_NAMES = {
    "": "Not checked yet",
    "as_sent": "As sent",
    "paid": "Paid in Xero",
    "changed": "Changed in Xero",
    "voided": "Voided in Xero",
    "deleted": "Deleted in Xero",
}
DRIFT_FILTER = "Changed in Xero"  # the Export Data filter: changed, voided or deleted
DRIFT_FILTER_HINT = "Documents someone voided, deleted or changed in Xero after they were exported."
DRIFT_RECONCILE_NOT_CONNECTED = "Not checked: the organisation is not connected to Xero."
DRIFT_NOTHING_TO_ACCEPT = "Nothing to accept: Xero's version is what the ledger already compares with."
DRIFT_REEXPORT_ONLY_VOIDED = ("Only a document voided or deleted in Xero can be sent again as a new document; "
                              "a changed one can be re-exported to update it, or its change accepted.")
DRIFT_ALREADY_REPLACED = "This document was already sent again as a new document."
DRIFT_SUFFIX_NEEDED = ("Give the suffix for the new number (for example “-R1”); the number with it can be at most "
                       "255 characters.")
DRIFT_ACCEPT_BUTTON = "Accept Xero's version"
DRIFT_REEXPORT_BUTTON = "Re-export as a new document"
DRIFT_ACCEPTED = "Xero's version accepted: the ledger no longer flags this document."


def drift_name(code: str) -> str:
    """The one name of a drift state (XeroDrift value) in the ledger, portal and API."""
    return DRIFT_NAMES.get(code or "", DRIFT_NAMES[""])


def drift_detail(*, drift: str, before=None, after=None, paid=None, due=None) -> str:
    """The line under the name: Xero's Total before → after for a change, paid and due for a
    paid document (amounts as Decimals, shown as they are, never rounded)."""
    if drift == "changed" and before is not None and after is not None:
        return f"Total {before} when sent, {after} in Xero now"
    if drift == "paid" and paid is not None:
        return f"Paid {paid}, due {due if due is not None else '0.00'}"
    return ""


def drift_number_taken(number: str) -> str:
    return f"The number “{number}” is already used by another document of this type: choose another suffix."


def drift_reexported(number: str) -> str:
    return f"Queued as a new document numbered “{number}”; the voided one stays in Xero as it is."


def drift_accepted_note(*, drift: str, before, after, actor, at: datetime) -> str:
    """What the ledger keeps once an Admin accepted Xero's version."""
    who = (actor.get_full_name() or actor.get_username()) if actor is not None else "someone"
    change = drift_name(drift)
    if before is not None and after is not None:
        change += f" (Total {before} → {after})"
    return f"{change}; accepted by {who} on {at:%-d %b %Y %H:%M} UTC."


def drift_count(n: int) -> str:
    """The portal's per-organisation count."""
    return "" if not n else f"{n} changed in Xero"


# --- lists of an earlier Xero organisation (#12 item 1) ------------------------------------------

EARLIER_XERO_ORGANISATION = "an earlier Xero organisation"  # when its name was never known


def earlier_lists(names) -> str:
    """The Lists page's one line about lists kept from Xero organisations linked before:
    ["Demo Co (NZ)"] → "Lists from Demo Co (NZ) are kept for the documents exported there."
    [] → ""."""
    names = [n for n in names if n]
    if not names:
        return ""
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"Lists from {joined} are kept for the documents exported there."


# --- Xero not answering (#13 item 5) -------------------------------------------------------------

WAITING_FOR_XERO = "Waiting for Xero"  # a queued item Xero has not been answering for (not a stored state)


def xero_waiting_count(n: int) -> str:
    """The portal's per-organisation count of items waiting for Xero to answer again."""
    return "" if not n else f"{n} waiting for Xero"


# --- account mapping (#15) -----------------------------------------------------------------------

NEEDS_MAPPING = "Needs mapping"  # the ledger state's name (ExportState.NEEDS_MAPPING)
MAPPING_PAGE = "Account mapping"
MAPPING_INTRO = ("Your own categories, tax codes, payment methods and dimensions, and the Xero account, tax rate "
                 "or tracking option each one means in the Xero organisation linked now. Documents that name "
                 "a category that is not mapped wait as “Needs mapping” and go out by themselves once it is.")
MAPPING_STATES = {"unmapped": "Not mapped", "suggested": "Suggested", "flagged": "Needs a new mapping",
                  "mapped": "Mapped"}
MAPPING_SAVED = "Mapping saved. Documents that were waiting for it go out by themselves."
SUGGESTIONS_ACCEPTED = "{n} suggested mapping(s) confirmed. Documents that were waiting for them go out by themselves."
NO_SUGGESTIONS = "There are no suggestions to confirm."
MAPPING_MEMBER_NOTE = "Only an Admin can change the mapping."
ACCOUNT_CREATED = "Account {code} {name} was created in Xero and mapped."


def needs_mapping_item(*, kind_label: str, code: str, why: str) -> str:
    """One reason an item waits as "Needs mapping", naming the host category."""
    return f"Needs mapping: {kind_label.lower()} {code} — {why}. An Admin maps it on the Account mapping page."


def mapping_flag(*, what: str, gone: str) -> str:
    """Why a confirmed mapping stopped working after the chart changed in Xero."""
    return f"{what} was {gone} in Xero — choose another, or restore it in Xero and refresh lists"


def mapping_flagged_email_subject(organisation_name: str, n: int) -> str:
    return f"{organisation_name}: {n} account mapping{'s' if n != 1 else ''} need{'' if n != 1 else 's'} you"


def mapping_flagged_email_body(*, organisation_name: str, flagged_lines, url: str) -> str:
    """The one email to the Admins when the chart broke mappings; `flagged_lines` are
    "CODE (kind): why" strings."""
    lines = "\n".join(f"- {line}" for line in flagged_lines)
    return (f"The chart of accounts changed in Xero for {organisation_name}. These mappings no longer work, and "
            f"documents that use them wait as “{NEEDS_MAPPING}” until they are mapped again:\n\n{lines}\n\n"
            f"Map them again here: {url}\n")


def needs_mapping_step(*, is_admin: bool, admin_names=()) -> str:
    """The next step for items waiting as "Needs mapping", worded for the reader."""
    after = "They go out by themselves once mapped, each exactly once."
    if is_admin:
        return f"Map the categories they name on the Account mapping page. {after}"
    return f"{ask_admins('map', admin_names=admin_names)} {after}"
