#include "services/envelope/rotation.h"

#include <algorithm>
#include <limits>

#include "services/common/strings.h"

namespace rebound::envelope {

KeyState StateOfKey(const AccountKeys& keys, std::uint32_t key_id) {
    if (key_id > keys.current_key_id) return KeyState::kUnknown;
    if (key_id == keys.current_key_id) return KeyState::kCurrent;
    const bool retired =
        std::find(keys.retired_key_ids.begin(), keys.retired_key_ids.end(), key_id) != keys.retired_key_ids.end();
    return retired ? KeyState::kRetired : KeyState::kVerifies;
}

absl::Status ValidateAccountKeys(const AccountKeys& keys) {
    if (keys.retired_key_ids.size() > kMaxRetiredKeyIds) {
        return absl::InvalidArgumentError(
            StrCat("account ", keys.account_id, ": more than ", kMaxRetiredKeyIds, " retired key ids"));
    }
    std::vector<std::uint32_t> sorted = keys.retired_key_ids;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
        return absl::InvalidArgumentError(StrCat("account ", keys.account_id, ": duplicate retired key ids"));
    }
    if (!sorted.empty() && sorted.back() >= keys.current_key_id) {
        return absl::InvalidArgumentError(StrCat("account ", keys.account_id, ": retired key id ", sorted.back(),
                                                 " is not older than the current key ", keys.current_key_id));
    }
    return absl::OkStatus();
}

absl::StatusOr<AccountKeys> RotateKey(const AccountKeys& keys) {
    if (absl::Status s = ValidateAccountKeys(keys); !s.ok()) return s;
    if (keys.current_key_id == std::numeric_limits<std::uint32_t>::max()) {
        return absl::FailedPreconditionError(
            StrCat("account ", keys.account_id, ": no key id after ", keys.current_key_id));
    }
    AccountKeys next = keys;
    ++next.current_key_id;
    return next;
}

absl::StatusOr<AccountKeys> RetireKey(const AccountKeys& keys, std::uint32_t key_id) {
    if (absl::Status s = ValidateAccountKeys(keys); !s.ok()) return s;
    switch (StateOfKey(keys, key_id)) {
        case KeyState::kRetired:
            return keys;
        case KeyState::kCurrent:
            return absl::FailedPreconditionError(
                StrCat("account ", keys.account_id, ": key ", key_id, " is current; rotate before retiring it"));
        case KeyState::kUnknown:
            return absl::FailedPreconditionError(StrCat("account ", keys.account_id, ": key ", key_id,
                                                        " is newer than the current key ", keys.current_key_id));
        case KeyState::kVerifies:
            break;
    }
    if (keys.retired_key_ids.size() >= kMaxRetiredKeyIds) {
        return absl::FailedPreconditionError(
            StrCat("account ", keys.account_id, ": already ", kMaxRetiredKeyIds, " retired key ids"));
    }
    AccountKeys next = keys;
    next.retired_key_ids.push_back(key_id);
    std::sort(next.retired_key_ids.begin(), next.retired_key_ids.end());
    return next;
}

}  // namespace rebound::envelope
