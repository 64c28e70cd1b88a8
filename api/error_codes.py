"""Every error ``code`` the API answers, each meaning one condition and answered with one status,
on every URL (v1, legacy, the chat socket). api/README.md lists them; tests/api/test_error_codes.py
fails for a code raised anywhere but missing here, a code whose status differs from its entry, a
code the docs do not list, and two entries that mean one condition.

The scheme: a named thing that does not exist is ``<thing>_not_found`` (``user_not_found``,
``item_not_found``, ``channel_not_found``); ``not_found`` is only a URL no route serves. A state
that refuses the request is named after the state (``not_connected``, ``member_banned``); a bad
field is ``validation_error`` with ``details`` (``{"field": "body.username", ...}``)."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus


@dataclass(frozen=True, slots=True)
class ErrorCode:
    # None: sent on the chat socket only, as an error frame.
    status: HTTPStatus | None
    meaning: str


_S = HTTPStatus

ERROR_CODES: dict[str, ErrorCode] = {
    # --- any request ---
    "bad_request": ErrorCode(_S.BAD_REQUEST, "The request cannot be read (malformed JSON, …)."),
    "validation_error": ErrorCode(
        _S.UNPROCESSABLE_ENTITY, "A field is missing or invalid; details name each one."
    ),
    "invalid_cursor": ErrorCode(
        _S.UNPROCESSABLE_ENTITY, "The page cursor is not one the API issued."
    ),
    "not_found": ErrorCode(_S.NOT_FOUND, "No route serves this URL."),
    "method_not_allowed": ErrorCode(_S.METHOD_NOT_ALLOWED, "The URL does not take this method."),
    "conflict": ErrorCode(_S.CONFLICT, "The request conflicts with the resource's state."),
    "request_too_large": ErrorCode(_S.REQUEST_ENTITY_TOO_LARGE, "The body is too large."),
    "unsupported_media_type": ErrorCode(
        _S.UNSUPPORTED_MEDIA_TYPE, "The body's media type is not one the URL reads."
    ),
    "rate_limited": ErrorCode(_S.TOO_MANY_REQUESTS, "Too many requests; Retry-After says when."),
    "server_error": ErrorCode(_S.INTERNAL_SERVER_ERROR, "An unexpected fault (logged)."),
    "service_unavailable": ErrorCode(
        _S.SERVICE_UNAVAILABLE, "The database or Redis cannot be reached; retry shortly."
    ),
    "error": ErrorCode(_S.BAD_REQUEST, "A domain error without a more precise code."),
    # --- authentication and permissions ---
    "not_authenticated": ErrorCode(_S.UNAUTHORIZED, "No credentials were sent."),
    "invalid_credentials": ErrorCode(_S.UNAUTHORIZED, "Wrong username or password."),
    "token_expired": ErrorCode(_S.UNAUTHORIZED, "The token has expired."),
    "token_not_yet_valid": ErrorCode(_S.UNAUTHORIZED, "The token is not valid yet."),
    "token_bad_signature": ErrorCode(_S.UNAUTHORIZED, "The token's signature is invalid."),
    "token_claims_missing": ErrorCode(_S.UNAUTHORIZED, "The token lacks a required claim."),
    "token_wrong_issuer": ErrorCode(_S.UNAUTHORIZED, "The token's issuer is not this server."),
    "token_wrong_audience": ErrorCode(_S.UNAUTHORIZED, "The token is for another audience."),
    "token_malformed": ErrorCode(_S.UNAUTHORIZED, "The token cannot be decoded."),
    "token_algorithm_not_allowed": ErrorCode(
        _S.UNAUTHORIZED, "The token is signed with an algorithm not allowed."
    ),
    "token_unknown_key": ErrorCode(_S.UNAUTHORIZED, "The token's signing key is not known."),
    "token_wrong_type": ErrorCode(_S.UNAUTHORIZED, "An access token where a refresh one goes."),
    "token_revoked": ErrorCode(_S.UNAUTHORIZED, "The token's login was revoked."),
    "token_reused": ErrorCode(
        _S.UNAUTHORIZED, "A spent refresh token was replayed; its login is revoked."
    ),
    "token_user_deleted": ErrorCode(_S.UNAUTHORIZED, "The token's user no longer exists."),
    "user_inactive": ErrorCode(_S.UNAUTHORIZED, "The token's user is deactivated."),
    "permission_denied": ErrorCode(_S.FORBIDDEN, "The user lacks the permission this needs."),
    "csrf_failed": ErrorCode(_S.FORBIDDEN, "A session request without a valid CSRF token."),
    # --- accounts ---
    "username_taken": ErrorCode(_S.CONFLICT, "A user with that username exists."),
    "email_taken": ErrorCode(_S.CONFLICT, "A user with that email exists."),
    "account_exists": ErrorCode(_S.CONFLICT, "A user with that username or email exists."),
    "wrong_password": ErrorCode(_S.UNPROCESSABLE_ENTITY, "The current password is wrong."),
    "email_verification_invalid": ErrorCode(
        _S.BAD_REQUEST, "The verification link is forged or was already used."
    ),
    "email_verification_expired": ErrorCode(_S.BAD_REQUEST, "The verification link has expired."),
    "password_reset_invalid": ErrorCode(
        _S.BAD_REQUEST, "The reset link is forged or was already used."
    ),
    "password_reset_expired": ErrorCode(_S.BAD_REQUEST, "The reset link has expired."),
    "email_unverified": ErrorCode(_S.FORBIDDEN, "The action waits for a verified email address."),
    "export_not_found": ErrorCode(_S.NOT_FOUND, "No export of yours with that id."),
    "export_not_ready": ErrorCode(_S.CONFLICT, "The export is not ready yet."),
    "export_expired": ErrorCode(_S.GONE, "The export expired; its file is deleted."),
    "report_target_required": ErrorCode(
        _S.UNPROCESSABLE_ENTITY, "A report names one username or one message."
    ),
    "report_self": ErrorCode(_S.UNPROCESSABLE_ENTITY, "Nobody reports themselves."),
    # --- people, items, taste ---
    "user_not_found": ErrorCode(_S.NOT_FOUND, "No active user by that username or id."),
    "user_required": ErrorCode(_S.UNPROCESSABLE_ENTITY, "Neither a username nor an id was given."),
    "same_user": ErrorCode(_S.UNPROCESSABLE_ENTITY, "The user named is the requester."),
    "item_not_found": ErrorCode(_S.NOT_FOUND, "No catalogue item of that kind and id."),
    "import_unresolved_item": ErrorCode(
        _S.UNPROCESSABLE_ENTITY, "An import entry matches no item and names none to create."
    ),
    "import_ambiguous_item": ErrorCode(
        _S.UNPROCESSABLE_ENTITY, "An import entry's name matches several items."
    ),
    "import_conflict": ErrorCode(
        _S.CONFLICT, "Concurrent imports kept creating the same items; retry."
    ),
    # --- history uploads ---
    "import_not_found": ErrorCode(_S.NOT_FOUND, "No import of the user's with that id."),
    "import_running": ErrorCode(
        _S.CONFLICT, "The user's previous import is still queued or running."
    ),
    "upload_unsupported": ErrorCode(
        _S.UNSUPPORTED_MEDIA_TYPE, "The uploaded file is neither a zip nor JSON."
    ),
    "upload_too_large": ErrorCode(
        _S.REQUEST_ENTITY_TOO_LARGE, "The uploaded file is over IMPORT_MAX_UPLOAD_BYTES."
    ),
    "upload_missing": ErrorCode(
        _S.BAD_REQUEST, "The stored upload is gone before its import ran (the job fails)."
    ),
    "json_invalid": ErrorCode(_S.UNPROCESSABLE_ENTITY, "An uploaded JSON file does not parse."),
    "field_type_invalid": ErrorCode(
        _S.UNPROCESSABLE_ENTITY, "A field of an export entry has the wrong type."
    ),
    "format_unrecognised": ErrorCode(
        _S.UNPROCESSABLE_ENTITY, "The upload is no export format the server reads."
    ),
    "formats_mixed": ErrorCode(
        _S.UNPROCESSABLE_ENTITY, "One upload holds files of several export formats."
    ),
    "zip_too_large": ErrorCode(
        _S.UNPROCESSABLE_ENTITY, "The zip unpacks to more than the limit (a zip bomb)."
    ),
    "zip_entry_path": ErrorCode(
        _S.UNPROCESSABLE_ENTITY, "A zip entry's path is absolute or leaves the archive."
    ),
    # --- connections ---
    "provider_not_found": ErrorCode(_S.NOT_FOUND, "No provider by that name."),
    "provider_not_configured": ErrorCode(
        _S.CONFLICT, "This server has no client credentials for the provider."
    ),
    "connection_not_found": ErrorCode(
        _S.NOT_FOUND, "The user has no connection to that provider (to read or remove)."
    ),
    "not_connected": ErrorCode(_S.CONFLICT, "The provider must be connected before it syncs."),
    "needs_reauth": ErrorCode(_S.CONFLICT, "The connection must be authorized again."),
    "invalid_state": ErrorCode(
        _S.BAD_REQUEST, "The callback's state is forged, expired or already used."
    ),
    "authorization_other_browser": ErrorCode(
        _S.BAD_REQUEST, "The callback came to a browser that did not start the authorization."
    ),
    "provider_callback_failed": ErrorCode(
        _S.BAD_GATEWAY, "The provider refused to complete the authorization."
    ),
    "provider_error": ErrorCode(_S.BAD_GATEWAY, "The provider answered with an error."),
    "provider_unavailable": ErrorCode(_S.BAD_GATEWAY, "The provider could not be reached."),
    "provider_bad_response": ErrorCode(_S.BAD_GATEWAY, "The provider's answer was unreadable."),
    "provider_auth_revoked": ErrorCode(_S.BAD_GATEWAY, "The provider revoked the authorization."),
    "provider_rejected": ErrorCode(_S.BAD_GATEWAY, "The provider rejected the request."),
    "provider_token_unreadable": ErrorCode(
        _S.BAD_REQUEST, "The stored provider token cannot be decrypted with the current keys."
    ),
    "sync_aborted": ErrorCode(_S.BAD_REQUEST, "The sync was stopped before it finished."),
    "task_runner_unavailable": ErrorCode(
        _S.SERVICE_UNAVAILABLE, "The background task runner cannot be reached."
    ),
    # --- chat ---
    # --- relationships ---
    "taste_hidden": ErrorCode(
        _S.FORBIDDEN, "The user's taste_visible_to leaves the requester out."
    ),
    "friend_request_not_found": ErrorCode(
        _S.NOT_FOUND, "No friend request with that id (or from that user) for the requester."
    ),
    "friend_request_pending": ErrorCode(
        _S.CONFLICT, "The requester already asked that user to be friends."
    ),
    "friend_request_answered": ErrorCode(
        _S.CONFLICT, "The friend request is accepted, declined or withdrawn already."
    ),
    "already_friends": ErrorCode(_S.CONFLICT, "The two users are friends already."),
    "friendship_not_found": ErrorCode(
        _S.NOT_FOUND, "The user named is not the requester's friend."
    ),
    "not_friends": ErrorCode(_S.FORBIDDEN, "Only friends may do this (a blend)."),
    "compare_link_not_found": ErrorCode(
        _S.NOT_FOUND, "No live compare link with that token (or a block between the two users)."
    ),
    "channel_not_found": ErrorCode(_S.NOT_FOUND, "No channel with that id."),
    "message_not_found": ErrorCode(_S.NOT_FOUND, "No message with that id here."),
    "conversation_not_found": ErrorCode(_S.NOT_FOUND, "No conversation with that user."),
    "invitation_not_found": ErrorCode(_S.NOT_FOUND, "No invitation with that id for the user."),
    "member_not_found": ErrorCode(_S.NOT_FOUND, "The user named is not in the channel."),
    "no_pending_request": ErrorCode(_S.NOT_FOUND, "The user named has not asked to join."),
    "channel_name_taken": ErrorCode(_S.CONFLICT, "A channel with that name exists."),
    "not_a_member": ErrorCode(_S.FORBIDDEN, "The requester is not an active member."),
    "banned": ErrorCode(_S.FORBIDDEN, "The requester is banned from the channel."),
    "member_banned": ErrorCode(
        _S.CONFLICT, "The user named is banned (an admin's unban lifts it)."
    ),
    "channel_role_required": ErrorCode(
        _S.FORBIDDEN, "The requester's channel role does not allow this."
    ),
    "already_member": ErrorCode(_S.CONFLICT, "The user named is already invited or a member."),
    "last_admin": ErrorCode(_S.CONFLICT, "The last admin cannot leave while others remain."),
    "not_active": ErrorCode(_S.CONFLICT, "The user named is not an active member."),
    "not_banned": ErrorCode(_S.CONFLICT, "The user named is not banned."),
    "blocked": ErrorCode(_S.FORBIDDEN, "A block between the two users forbids this."),
    "client_id_reused": ErrorCode(_S.CONFLICT, "The client_id was used for another message."),
    "invalid_frame": ErrorCode(None, "A socket frame that is not valid JSON of a known type."),
    "frame_too_large": ErrorCode(None, "A socket frame over the size limit."),
    # --- the legacy API ---
    "invalid_page": ErrorCode(_S.NOT_FOUND, "Legacy pages: a page number past the last."),
}
