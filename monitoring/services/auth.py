"""Accounts, sign-in, roles and what each role may do. No Streamlit here: the dashboard calls it.

- Passwords: argon2id (argon2-cffi defaults, RFC 9106), never stored or logged in plain text.
- Policy: at least 8 characters, not the user name, not a common password (NIST SP 800-63B §5.1.1.2).
- Lockout (OWASP ASVS 4.0 V2.2.1, soft lockout): each attempt on an account is counted in one
  UPDATE ... RETURNING before its password is checked, so parallel attempts cannot share a count
  (issue 16: 30 parallel guesses on PostgreSQL were all checked by a read-then-write counter). The
  LOCKOUT_ATTEMPTS-th attempt in a row sets the lock; attempts after it are refused without checking
  the password until LOCKOUT_MINUTES have passed, so at most LOCKOUT_ATTEMPTS passwords are checked
  per account and lock period, however many arrive at once.
- One message for an unknown user, a wrong password and a locked account, so the form tells neither
  who has an account nor whether a guess under the lock was right. The lock is shown to an
  administrator (Users page, CLI) and, after it ends, to the user: the first sign-in says how many
  failed attempts came before it.
- Every sign-in, failed sign-in, sign-out and account change writes one audit row.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import and_, case, func, literal, select, update
from sqlmodel import Session

from monitoring.clinical.vocabulary import ROLES
from monitoring.config import load_settings
from monitoring.errors import RecordError
from monitoring.permissions import PERMISSIONS, PermissionDenied, may, require  # noqa: F401 (the services' API)
from monitoring.store.models import AuditEvent, Patient, User, UserWard, Ward
from monitoring.store.repository import DEMO_CREATOR, made_by_demo, write_audit

_SETTINGS = load_settings()   # read once when the server or the command starts (monitoring.config)
LOCKOUT_ATTEMPTS = _SETTINGS.lockout_attempts
LOCKOUT_MINUTES = _SETTINGS.lockout_minutes
SESSION_TIMEOUT_MINUTES = _SETTINGS.session_timeout_minutes
MIN_PASSWORD_LENGTH = 8
COMMON_PASSWORDS = frozenset({"password", "password1", "12345678", "123456789", "1234567890", "qwertyui",
                              "iloveyou", "11111111", "abc12345", "letmein1", "welcome1", "changeme",
                              "passw0rd", "admin123", "hospital", "nurse123"})
DEMO_PASSWORD = "demo-il2"
DEMO_ACCOUNTS = (("nurse", "Demo nurse", "nurse"), ("oncologist", "Demo oncologist", "oncologist"),
                 ("quality", "Demo quality analyst", "quality"), ("admin", "Demo administrator", "admin"))
WRONG_CREDENTIALS = (f"Wrong user name or password. After {LOCKOUT_ATTEMPTS} failed attempts in a row an account "
                     f"waits {LOCKOUT_MINUTES:g} minutes; an administrator can unlock it sooner.")

_hasher = PasswordHasher()  # argon2id, time_cost 3, memory 64 MiB, parallelism 4 (library defaults)
# Verified against when the user does not exist, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")

# --- roles and permissions ---------------------------------------------------------------------

# The table and its checks live in monitoring.permissions (the views read it too: visible_wards).


# --- passwords ---------------------------------------------------------------------------------

def password_problems(password: str, username: str = "") -> list[str]:
    """Why a new password is refused (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Password has {len(password)} characters; at least {MIN_PASSWORD_LENGTH} are needed.")
    if username and password.lower() == username.lower():
        problems.append("Password must not be the user name.")
    if password.lower() in COMMON_PASSWORDS:
        problems.append("Password is a commonly used password; choose another.")
    if password and len(set(password)) == 1:
        problems.append("Password must not be one repeated character.")
    return problems


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --- accounts ----------------------------------------------------------------------------------

def _public(user: User) -> dict:
    return {"username": user.username, "display_name": user.display_name, "role": user.role, "email": user.email,
            "is_active": user.is_active, "wards": None}


def get_user(*, session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username.strip().lower())).first()


def add_user(*, session: Session, username: str, display_name: str, role: str, password: str | None,
             created_by: str, email: str | None = None, ward_codes: list[str] | None = None,
             enforce_policy: bool = True) -> User:
    """Create an account (password hashed with argon2id); one audit row without the password."""
    username = username.strip().lower()
    errors = []
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        errors.append(f"User name '{username}' must be letters, digits, '.', '-' or '_'.")
    if role not in ROLES:
        errors.append(f"Role '{role}' is not known; accepted: {', '.join(ROLES)}.")
    if password is None and not email:
        errors.append("Give a password, or an e-mail address for single sign-on.")
    if password is not None and enforce_policy:
        errors += password_problems(password, username)
    if get_user(session=session, username=username) is not None:
        errors.append(f"User name '{username}' is taken.")
    errors += _ward_problems(role, ward_codes or [])
    address = email.strip().lower() if email else None
    holder = session.scalars(select(User.username).where(User.email == address)).first() if address else None
    if holder is not None:   # unique in the table too: refused by name, not as a database error
        errors.append(f"E-mail '{address}' is already the single sign-on identity of '{holder}'.")
    if errors:
        raise RecordError(errors)
    user = User(username=username, display_name=display_name.strip() or username, role=role,
                email=email.strip().lower() if email else None,
                password_hash=hash_password(password) if password is not None else None)
    session.add(user)
    session.flush()
    codes = set_wards(session=session, user=user, ward_codes=ward_codes or [])
    write_audit(session=session, username=created_by, action="user-create", entity="user", entity_id=user.username,
                after={**_public(user), "wards": codes})
    return user


NURSE_NEEDS_A_WARD = ("A nurse needs at least one ward: a nurse sees only the patients of her wards, so a nurse "
                      "without a ward would see nothing. Choose a ward.")


def _ward_problems(role: str | None, ward_codes: list[str]) -> list[str]:
    """The rule on an account's wards: a nurse has at least one (views.lists.visible_wards shows her
    nothing else). Other roles may have none (the oncologist sees every ward; quality and admin none)."""
    return [NURSE_NEEDS_A_WARD] if role == "nurse" and not ward_codes else []


def set_wards(*, session: Session, user: User, ward_codes: list[str]) -> list[str]:
    """Replace the wards a user is assigned to (nurses see only these)."""
    wards = {w.code: w for w in session.scalars(select(Ward).where(Ward.code.in_(ward_codes))).all()}
    unknown = sorted(set(ward_codes) - set(wards))
    if unknown:
        raise RecordError([f"Ward '{code}' does not exist." for code in unknown])
    for link in session.scalars(select(UserWard).where(UserWard.user_id == user.id)).all():
        session.delete(link)
    for ward in wards.values():
        session.add(UserWard(user_id=user.id, ward_id=ward.id))
    session.flush()
    return sorted(wards)


def user_ward_ids(*, session: Session, user: User) -> list[int]:
    return [link.ward_id for link in session.scalars(select(UserWard).where(UserWard.user_id == user.id)).all()]


def set_active(*, session: Session, username: str, active: bool, changed_by: str) -> User:
    user = get_user(session=session, username=username)
    if user is None:
        raise RecordError([f"No user named '{username}'."])
    if not active and user.username == (changed_by or "").strip().lower():
        raise RecordError(["You cannot disable your own account; ask another administrator."])
    before = _public(user)
    user.is_active = active
    write_audit(session=session, username=changed_by, action="user-enable" if active else "user-disable",
                entity="user", entity_id=user.username, before=before, after=_public(user))
    session.flush()
    return user


def change_account(*, session: Session, username: str, changed_by: str, role: str | None = None,
                   ward_codes: list[str] | None = None, display_name: str | None = None) -> User:
    """Change an account's role, wards or name: one audit row with the old and the new values. Nobody
    changes their own role (an administrator could not then be stopped by another); a nurse keeps at
    least one ward (NURSE_NEEDS_A_WARD)."""
    user = get_user(session=session, username=username)
    errors = []
    if user is None:
        errors.append(f"No user named '{username}'.")
    if role is not None and role not in ROLES:
        errors.append(f"Role '{role}' is not known; accepted: {', '.join(ROLES)}.")
    if user is not None and role is not None and role != user.role and user.username == changed_by.strip().lower():
        errors.append("You cannot change your own role; ask another administrator.")
    if user is not None and (role is None or role in ROLES):
        errors += _ward_problems(role or user.role,
                                 ward_codes if ward_codes is not None else _ward_codes(session=session, user=user))
    if errors:
        raise RecordError(errors)
    before = {**_public(user), "wards": _ward_codes(session=session, user=user)}
    if role is not None:
        user.role = role
    if display_name is not None and display_name.strip():
        user.display_name = display_name.strip()
    after = {**_public(user), "wards": sorted(set(ward_codes)) if ward_codes is not None else before["wards"]}
    write_audit(session=session, username=changed_by, action="user-change", entity="user",
                entity_id=user.username, before=before, after=after)
    if ward_codes is not None:
        set_wards(session=session, user=user, ward_codes=ward_codes)  # an unknown ward refuses the whole change
    session.flush()
    return user


def _ward_codes(*, session: Session, user: User) -> list[str]:
    return sorted(session.scalars(select(Ward.code).join(UserWard, UserWard.ward_id == Ward.id)
                                  .where(UserWard.user_id == user.id)).all())


def reset_password(*, session: Session, username: str, new_password: str, changed_by: str) -> User:
    """Set a new password and lift any lockout."""
    user = get_user(session=session, username=username)
    if user is None:
        raise RecordError([f"No user named '{username}'."])
    problems = password_problems(new_password, user.username)
    if problems:
        raise RecordError(problems)
    user.password_hash = hash_password(new_password)
    user.failed_logins, user.locked_until = 0, None
    write_audit(session=session, username=changed_by, action="user-password-reset", entity="user",
                entity_id=user.username, after={"unlocked": True})
    session.flush()
    return user


def unlock(*, session: Session, username: str, changed_by: str) -> User:
    """Lift a lock and start the failed-attempt count again, without a new password (audited)."""
    user = get_user(session=session, username=username)
    if user is None:
        raise RecordError([f"No user named '{username}'."])
    before = {"failed_logins": user.failed_logins,
              "locked_until": user.locked_until.isoformat() if user.locked_until else None}
    user.failed_logins, user.locked_until = 0, None
    session.flush()
    write_audit(session=session, username=changed_by, action="user-unlock", entity="user", entity_id=user.username,
                before=before, after={"failed_logins": 0, "locked_until": None})
    return user


def locked_now(user: User, now: datetime | None = None) -> datetime | None:
    """The end of the account's lock if it is locked now (for an administrator's eyes only)."""
    now = now or datetime.now(timezone.utc)
    return user.locked_until if user.locked_until is not None and user.locked_until > now else None


def list_users(*, session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.role, User.username)).all())


def real_data_present(*, session: Session) -> list[str]:
    """What makes this database more than a demo (issue 16 item 9): accounts the demo did not create,
    patients not marked synthetic. Empty for an empty or demo-only database."""
    accounts = session.scalars(select(User.username).where(User.username.not_in(made_by_demo()))
                               .order_by(User.username)).all()
    patients = session.scalar(select(func.count()).select_from(Patient).where(Patient.is_synthetic.is_(False)))
    found = []
    if accounts:
        shown = ", ".join(accounts[:5]) + (f" and {len(accounts) - 5} more" if len(accounts) > 5 else "")
        found.append(f"{len(accounts)} account{'s' if len(accounts) > 1 else ''} not made by the demo ({shown})")
    if patients:
        found.append(f"{patients} patient{'s' if patients > 1 else ''} not marked synthetic")
    return found


def ensure_demo_accounts(*, session: Session, ward_codes: list[str]) -> int:
    """The demo database's four accounts (password demo-il2, published in the README): only ever in a
    database that holds nothing but the demo, never beside real accounts or patients."""
    real = real_data_present(session=session)
    if real:
        raise RecordError([f"Demo accounts are not added to a database that holds {' and '.join(real)}; "
                           "the synthetic demo goes into a database of its own."])
    created = 0
    for username, display_name, role in DEMO_ACCOUNTS:
        if get_user(session=session, username=username) is None:
            add_user(session=session, username=username, display_name=display_name, role=role,
                     password=DEMO_PASSWORD, created_by=DEMO_CREATOR,
                     ward_codes=ward_codes if role == "nurse" else [], enforce_policy=False)
            created += 1
    return created


# --- sign-in -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignIn:
    ok: bool
    message: str
    username: str | None = None
    display_name: str | None = None
    role: str | None = None
    failed_before: int = 0  # failed attempts on the account since its last sign-in (told after a success)


def _as_audit_name(text: str) -> str:
    """What someone typed as a user name (or an identity provider's e-mail), cut to the audit column: a
    failed sign-in is recorded, never turned into a crash by its length."""
    return text[:AuditEvent.__table__.c.username.type.length]


def _count_attempt(*, session: Session, user_id: int, now: datetime) -> tuple[int, datetime | None]:
    """Count one sign-in attempt atomically and return (attempts in a row, locked until).

    An ended lock starts a new count; the LOCKOUT_ATTEMPTS-th attempt sets the lock. One statement,
    so the database serialises concurrent attempts on the row (SQLite: the writer lock; PostgreSQL:
    the row lock, with the count re-read after the wait)."""
    table = User.__table__
    lock_ended = and_(table.c.locked_until.is_not(None), table.c.locked_until <= now)
    attempts = case((lock_ended, 1), else_=table.c.failed_logins + 1)
    until = literal(now + timedelta(minutes=LOCKOUT_MINUTES), table.c.locked_until.type)
    locked_until = case((lock_ended, None),
                        (and_(table.c.locked_until.is_(None), attempts >= LOCKOUT_ATTEMPTS), until),
                        else_=table.c.locked_until)
    row = session.execute(update(table).where(table.c.id == user_id)
                          .values(failed_logins=attempts, locked_until=locked_until)
                          .returning(table.c.failed_logins, table.c.locked_until)).one()
    return row.failed_logins, row.locked_until


def authenticate(*, session: Session, username: str, password: str, now: datetime | None = None,
                 method: str = "password", os_user: str | None = None) -> SignIn:
    """Check a user name and password; count the attempt first, lock after LOCKOUT_ATTEMPTS, audit either way.
    `method` "cli" with `os_user` (the operating-system account) for the command line's confirmations."""
    where = {"method": method, **({"os_user": os_user} if os_user else {})}
    now = now or datetime.now(timezone.utc)
    typed = (username or "").strip().lower()
    user = get_user(session=session, username=typed) if typed else None
    if user is None:
        _verify(None, password)  # the same work as a real check, so timing does not tell either
        write_audit(session=session, username=_as_audit_name(typed) or "(empty)", action="sign-in-failed",
                    entity="user", entity_id=_as_audit_name(typed) or None, after={"reason": "unknown user", **where})
        return SignIn(False, WRONG_CREDENTIALS)
    attempts, locked_until = _count_attempt(session=session, user_id=user.id, now=now)
    if attempts > LOCKOUT_ATTEMPTS:
        _verify(None, password)  # not checked under the lock: a right guess must look like a wrong one
        write_audit(session=session, username=user.username, action="sign-in-failed", entity="user",
                    entity_id=user.username, after={"reason": "locked", "attempt": attempts,
                                                    "locked_until": locked_until.isoformat(), **where})
        return SignIn(False, WRONG_CREDENTIALS)
    valid = _verify(user.password_hash, password)
    if not valid or not user.is_active:
        reason = "disabled" if valid else "wrong password"
        write_audit(session=session, username=user.username, action="sign-in-failed", entity="user",
                    entity_id=user.username,
                    after={"reason": reason, "attempt": attempts, **where,
                           **({"locked_until": locked_until.isoformat()} if locked_until else {})})
        if valid:  # only the holder of the password learns that the account is disabled
            return SignIn(False, "This account is disabled; ask an administrator.")
        return SignIn(False, WRONG_CREDENTIALS)
    table = User.__table__
    session.execute(update(table).where(table.c.id == user.id).values(failed_logins=0, locked_until=None))
    session.expire(user)
    failed_before = _failed_since_last_sign_in(session=session, username=user.username)
    write_audit(session=session, username=user.username, action="sign-in", entity="user", entity_id=user.username,
                after={**where, "role": user.role, "failed_before": failed_before})
    return SignIn(True, "Signed in.", user.username, user.display_name, user.role, failed_before=failed_before)


def _failed_since_last_sign_in(*, session: Session, username: str) -> int:
    """Failed attempts on the account (any reason, the lock included) since its last sign-in, from the audit."""
    mine = and_(AuditEvent.entity == "user", AuditEvent.entity_id == username)
    last = session.scalar(select(func.max(AuditEvent.at)).where(mine, AuditEvent.action == "sign-in"))
    failed = select(func.count()).where(mine, AuditEvent.action == "sign-in-failed")
    return session.scalar(failed.where(AuditEvent.at > last) if last is not None else failed)


def sign_in_identity(*, session: Session, email: str | None) -> SignIn:
    """Single sign-on: map the identity provider's e-mail to an active user; unknown gets no access."""
    address = (email or "").strip().lower()
    user = session.scalars(select(User).where(User.email == address)).first() if address else None
    if user is None or not user.is_active:
        write_audit(session=session, username=_as_audit_name(address) or "(no e-mail)", action="sign-in-failed",
                    entity="user",
                    after={"method": "oidc", "reason": "unknown identity" if user is None else "disabled"})
        return SignIn(False, f"{address or 'This identity'} has no account here; ask an administrator for access.")
    write_audit(session=session, username=user.username, action="sign-in", entity="user", entity_id=user.username,
                after={"method": "oidc", "role": user.role})
    return SignIn(True, "Signed in.", user.username, user.display_name, user.role)


def record_sign_out(*, session: Session, username: str, reason: str = "user") -> None:
    write_audit(session=session, username=username, action="sign-out", entity="user", entity_id=username,
                after={"reason": reason})


def session_expired(last_activity: datetime | None, now: datetime | None = None,
                    timeout_minutes: float = SESSION_TIMEOUT_MINUTES) -> bool:
    """True when the session has been idle longer than the timeout (default 30 minutes)."""
    now = now or datetime.now(timezone.utc)
    return last_activity is not None and now - last_activity > timedelta(minutes=timeout_minutes)
