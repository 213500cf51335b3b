#pragma once
// Key rotation and retirement as pure operations on an account's key state. The caller
// stores the result (accounts.envelope_key_id, accounts.envelope_retired_key_ids); nothing
// here touches the database.
//
// Rules: new tokens use current_key_id; every key id <= current_key_id that is not retired
// verifies. Rotating makes current_key_id + 1 current; the previous keys keep verifying.
// Retiring stops a key from verifying (e.g. once its tokens are older than any complaint
// could be, or at once if the master secret of that key leaked); the current key cannot be
// retired -- rotate first.

#include <cstdint>

#include "absl/status/statusor.h"
#include "services/envelope/codec.h"

namespace rebound::envelope {

enum class KeyState {
    kCurrent,   // mints new tokens and verifies
    kVerifies,  // older key, still verifies
    kRetired,   // older key, no longer verifies
    kUnknown,   // newer than the current key
};

KeyState StateOfKey(const AccountKeys& keys, std::uint32_t key_id);

// Checks the invariants: at most kMaxRetiredKeyIds retired ids, none >= current_key_id,
// no duplicates.
absl::Status ValidateAccountKeys(const AccountKeys& keys);

// current_key_id + 1 (FailedPrecondition at 2^32-1, the last key id).
absl::StatusOr<AccountKeys> RotateKey(const AccountKeys& keys);

// Adds key_id to the retired ids (sorted). Retiring an already retired key is a no-op;
// retiring the current key or an unknown one is FailedPrecondition.
absl::StatusOr<AccountKeys> RetireKey(const AccountKeys& keys, std::uint32_t key_id);

}  // namespace rebound::envelope
