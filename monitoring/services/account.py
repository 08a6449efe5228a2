"""What a signed-in user does to her own account: change her password (issue 19 item 4). No Streamlit here.

- The current password is required and checked like a sign-in (auth.authenticate): the attempt is
  counted before the check, and the LOCKOUT_ATTEMPTS-th wrong one in a row locks the account for
  LOCKOUT_MINUTES, so someone at a workstation left signed in cannot guess the password by changing it.
  A refusal is therefore returned, not raised: raising would roll back the count and its audit row.
- The new password follows the same policy as every other (auth.password_problems).
- On success the user's other sign-ins are ended (sessions.end_others): whoever knew the old password
  is signed out everywhere but the browser that changed it. One audit row either way, never a password.
- An account that signs in only through single sign-on has no password here to change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import update
from sqlmodel import Session, col

from monitoring.services import auth, sessions
from monitoring.store.models import User
from monitoring.store.repository import write_audit

NO_LOCAL_PASSWORD = ("Your account signs in through single sign-on and has no password here; change your password "
                     "with your hospital's identity provider.")
WRONG_CURRENT = (f"The current password is wrong. After {auth.LOCKOUT_ATTEMPTS} wrong passwords in a row (here or "
                 f"at sign-in) the account waits {auth.LOCKOUT_MINUTES:g} minutes; an administrator can unlock it "
                 "sooner.")


@dataclass(frozen=True)
class PasswordChange:
    ok: bool
    errors: list[str] = field(default_factory=list)
    sessions_ended: int = 0      # the user's other sign-ins signed out


def change_own_password(*, session: Session, username: str, current_password: str, new_password: str,
                        confirm_password: str, keep_token: str | None = None,
                        now: datetime | None = None) -> PasswordChange:
    """Change the signed-in user's own password (see the module doc for the rules)."""
    now = now or datetime.now(timezone.utc)
    user = auth.get_user(session=session, username=username)
    if user is None or not user.is_active:
        return PasswordChange(False, ["This account is not active; ask an administrator."])
    if user.password_hash is None:
        return PasswordChange(False, [NO_LOCAL_PASSWORD])
    attempts, locked_until = auth._count_attempt(session=session, user_id=int(user.id or 0), now=now)
    if attempts > auth.LOCKOUT_ATTEMPTS:   # under the lock nothing is checked, as at sign-in
        write_audit(session=session, username=user.username, action="password-change-failed", entity="user",
                    entity_id=user.username, after={"reason": "locked", "attempt": attempts})
        return PasswordChange(False, [f"Your account is locked after {auth.LOCKOUT_ATTEMPTS} wrong passwords in a "
                                      f"row until {locked_until:%H:%M} UTC; try again then, or ask an "
                                      "administrator to unlock it."])
    if not auth._verify(user.password_hash, current_password):
        write_audit(session=session, username=user.username, action="password-change-failed", entity="user",
                    entity_id=user.username,
                    after={"reason": "wrong password", "attempt": attempts,
                           **({"locked_until": locked_until.isoformat()} if locked_until else {})})
        return PasswordChange(False, [WRONG_CURRENT])
    session.execute(update(User).where(col(User.id) == user.id).values(failed_logins=0, locked_until=None))
    session.expire(user)
    problems = auth.password_problems(new_password, user.username)
    if new_password != confirm_password:
        problems.append("The new password and its confirmation differ; type the same password twice.")
    if new_password and auth._verify(user.password_hash, new_password):
        problems.append("The new password is the current one; choose a different password.")
    if problems:
        return PasswordChange(False, problems)
    ended = sessions.end_others(session=session, username=user.username, keep_token=keep_token,
                                reason="password-change", now=now)
    user.password_hash = auth.hash_password(new_password)   # flushed with its audit row (repository's guard)
    write_audit(session=session, username=user.username, action="password-change", entity="user",
                entity_id=user.username, after={"by": "self", "other_sign_ins_ended": ended})
    session.flush()
    return PasswordChange(True, [], ended)


def has_local_password(*, session: Session, username: str) -> bool:
    """False for an account that signs in only through single sign-on (nothing here to change)."""
    user = auth.get_user(session=session, username=username)
    return user is not None and user.password_hash is not None
