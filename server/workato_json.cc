#include "workato_json.h"

#include <limits>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "errors.h"
#include "simdjson.h"

namespace workato_connector {
namespace v1 = ::workato::connector::v1;
namespace {

absl::Status BadResponse(absl::string_view message) {
  return MakeError(absl::StatusCode::kUnavailable, reason::kWorkatoBadResponse,
                   absl::StrCat("Workato answered with unexpected JSON: ", message));
}

// Field returns the member `key` of `object`, or nullopt when it is missing
// or null: the API leaves many optional fields null.
std::optional<simdjson::dom::element> Field(simdjson::dom::object object, const char* key) {
  simdjson::dom::element value;
  if (object[key].get(value) != simdjson::SUCCESS || value.is_null()) return std::nullopt;
  return value;
}

// StringField returns a string member, or "" when missing, null or not a
// string (tolerated: the field is informational).
std::string StringField(simdjson::dom::object object, const char* key) {
  std::optional<simdjson::dom::element> value = Field(object, key);
  std::string_view text;
  if (!value.has_value() || value->get_string().get(text) != simdjson::SUCCESS) return "";
  return std::string(text);
}

// IdField accepts an integer (ids can exceed 2^31) or a string of digits.
std::optional<int64_t> IdField(simdjson::dom::object object, const char* key) {
  std::optional<simdjson::dom::element> value = Field(object, key);
  if (!value.has_value()) return std::nullopt;
  int64_t id = 0;
  if (value->get_int64().get(id) == simdjson::SUCCESS) return id;
  std::string_view text;
  if (value->get_string().get(text) == simdjson::SUCCESS &&
      absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &id))
    return id;
  return std::nullopt;
}

}  // namespace

namespace {

// Digits reads `count` decimal digits at `text[pos]`, or returns false.
bool Digits(absl::string_view text, size_t pos, size_t count, int* value) {
  if (pos + count > text.size()) return false;
  int result = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return false;
    result = result * 10 + (c - '0');
  }
  *value = result;
  return true;
}

// DaysFromCivil counts days from 1970-01-01 to a proleptic Gregorian date
// (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// FastRfc3339 parses the common shape "YYYY-MM-DDTHH:MM:SS[.f+](Z|±HH:MM)"
// without absl::ParseTime's general machinery (a sync parses two times per
// collaborator). It returns false for anything else, valid or not, and
// ParseRfc3339 then asks absl, so both always agree.
bool FastRfc3339(absl::string_view text, google::protobuf::Timestamp* out) {
  int year, month, day, hour, minute, second;
  if (text.size() < 20 || !Digits(text, 0, 4, &year) || text[4] != '-' ||
      !Digits(text, 5, 2, &month) || text[7] != '-' || !Digits(text, 8, 2, &day) ||
      text[10] != 'T' || !Digits(text, 11, 2, &hour) || text[13] != ':' ||
      !Digits(text, 14, 2, &minute) || text[16] != ':' || !Digits(text, 17, 2, &second)) {
    return false;
  }
  static constexpr int kDaysInMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 ||
      day > kDaysInMonth[month - 1] + (month == 2 && IsLeapYear(year) ? 1 : 0) || hour > 23 ||
      minute > 59 || second > 59) {
    return false;
  }
  size_t pos = 19;
  int32_t nanos = 0;
  if (text[pos] == '.') {
    ++pos;
    size_t digits = 0;
    int32_t scale = 100000000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) nanos += (text[pos] - '0') * scale;
      scale /= 10;
      ++digits;
      ++pos;
    }
    // absl keeps nanoseconds; longer fractions are left to it.
    if (digits == 0 || digits > 9) return false;
  }
  int64_t offset_seconds = 0;
  if (pos + 1 == text.size() && text[pos] == 'Z') {
    ++pos;
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int offset_hours, offset_minutes;
    if (!Digits(text, pos + 1, 2, &offset_hours) || text[pos + 3] != ':' ||
        !Digits(text, pos + 4, 2, &offset_minutes) || offset_hours > 23 || offset_minutes > 59) {
      return false;
    }
    offset_seconds = (offset_hours * 60 + offset_minutes) * 60;
    if (text[pos] == '-') offset_seconds = -offset_seconds;
    pos += 6;
  } else {
    return false;
  }
  out->set_seconds(DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
                   offset_seconds);
  out->set_nanos(nanos);
  return true;
}

}  // namespace

std::optional<google::protobuf::Timestamp> ParseRfc3339(absl::string_view text) {
  if (text.empty()) return std::nullopt;
  google::protobuf::Timestamp timestamp;
  if (FastRfc3339(text, &timestamp)) return timestamp;
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) return std::nullopt;
  int64_t seconds = absl::ToUnixSeconds(time);
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return timestamp;
}

absl::StatusOr<Workspace> ParseWorkspace(absl::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json.data(), json.size());
  simdjson::dom::element document;
  if (auto error = parser.parse(padded).get(document); error != simdjson::SUCCESS) {
    return BadResponse(absl::StrCat("workspace details are not valid JSON (",
                                    simdjson::error_message(error), ")"));
  }
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    return BadResponse("workspace details are not a JSON object");
  }
  std::optional<int64_t> id = IdField(object, "id");
  if (!id.has_value()) return BadResponse("workspace details have no integer id");
  Workspace workspace;
  workspace.id = *id;
  workspace.name = StringField(object, "name");
  return workspace;
}

namespace {

// The collaborator list is read with simdjson's On-Demand API: one pass over
// the text, no document tree (which for 100k collaborators would take about
// three times the text's size in memory).
namespace od = simdjson::ondemand;

absl::Status NotValidJson(simdjson::error_code error) {
  return BadResponse(absl::StrCat("the collaborator list is not valid JSON (",
                                  simdjson::error_message(error), ")"));
}

// OptionalString reads a string member; `*text` is left empty when the value
// is null or not a string (tolerated: the fields are informational). Only a
// malformed value is an error.
simdjson::error_code OptionalString(od::value& value, std::string_view* text) {
  od::json_type type;
  if (auto error = value.type().get(type)) return error;
  if (type != od::json_type::string) {
    *text = std::string_view();
    return simdjson::SUCCESS;
  }
  return value.get_string().get(*text);
}

// OptionalTime reads an RFC 3339 string member into `*time` when it is one.
simdjson::error_code OptionalTime(od::value& value, google::protobuf::Timestamp* time,
                                  bool* set) {
  std::string_view text;
  if (auto error = OptionalString(value, &text)) return error;
  std::optional<google::protobuf::Timestamp> parsed =
      ParseRfc3339(absl::string_view(text.data(), text.size()));
  *set = parsed.has_value();
  if (*set) *time = *parsed;
  return simdjson::SUCCESS;
}

// The collaborator members this service reads. Of a member given twice the
// first counts, as with a lookup by name.
enum Member : uint32_t {
  kOther = 0,
  kId = 1 << 0,
  kEmail = 1 << 1,
  kName = 1 << 2,
  kGrantType = 1 << 3,
  kExternalId = 1 << 4,
  kTimeZone = 1 << 5,
  kCreatedAt = 1 << 6,
  kLastActivityLog = 1 << 7,
  kRoles = 1 << 8,
};

Member MemberOf(std::string_view key) {
  if (key == "id") return kId;
  if (key == "email") return kEmail;
  if (key == "name") return kName;
  if (key == "grant_type") return kGrantType;
  if (key == "external_id") return kExternalId;
  if (key == "time_zone") return kTimeZone;
  if (key == "created_at") return kCreatedAt;
  if (key == "last_activity_log") return kLastActivityLog;
  if (key == "roles") return kRoles;
  return kOther;
}

// ReadId accepts an integer (ids can exceed 2^31) or a string of digits;
// anything else leaves `*id` empty.
simdjson::error_code ReadId(od::value& value, std::optional<int64_t>* id) {
  od::json_type type;
  if (auto error = value.type().get(type)) return error;
  if (type == od::json_type::number) {
    int64_t number = 0;
    simdjson::error_code error = value.get_int64().get(number);
    if (error == simdjson::SUCCESS) *id = number;
    // 1.5 or 1e30 is no id; the caller reports that.
    return error == simdjson::INCORRECT_TYPE || error == simdjson::NUMBER_OUT_OF_RANGE
               ? simdjson::SUCCESS
               : error;
  }
  if (type == od::json_type::string) {
    std::string_view text;
    if (auto error = value.get_string().get(text)) return error;
    int64_t number = 0;
    if (absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &number)) *id = number;
  }
  return simdjson::SUCCESS;
}

// ReadLastVisit reads last_activity_log.created_at.
simdjson::error_code ReadLastVisit(od::value& value, v1::User& user) {
  od::json_type type;
  if (auto error = value.type().get(type)) return error;
  if (type != od::json_type::object) return simdjson::SUCCESS;
  od::object log;
  if (auto error = value.get_object().get(log)) return error;
  bool seen = false;
  for (auto member : log) {
    od::field field;
    if (auto error = std::move(member).get(field)) return error;
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return error;
    if (key != "created_at" || seen) continue;
    seen = true;
    bool set = false;
    google::protobuf::Timestamp time;
    if (auto error = OptionalTime(field.value(), &time, &set)) return error;
    if (set) *user.mutable_last_visit_time() = time;
  }
  return simdjson::SUCCESS;
}

// ReadRoles reads the roles array; entries that are not objects are skipped.
simdjson::error_code ReadRoles(od::value& value, v1::User& user) {
  od::json_type type;
  if (auto error = value.type().get(type)) return error;
  if (type != od::json_type::array) return simdjson::SUCCESS;
  od::array roles;
  if (auto error = value.get_array().get(roles)) return error;
  for (auto entry : roles) {
    od::value role_value;
    if (auto error = std::move(entry).get(role_value)) return error;
    if (auto error = role_value.type().get(type)) return error;
    if (type != od::json_type::object) continue;
    od::object role;
    if (auto error = role_value.get_object().get(role)) return error;
    v1::EnvironmentRole* out = user.add_roles();
    bool environment_seen = false, name_seen = false, type_seen = false;
    for (auto member : role) {
      od::field field;
      if (auto error = std::move(member).get(field)) return error;
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) return error;
      std::string* target = nullptr;
      bool* seen = nullptr;
      if (key == "environment_type") {
        target = out->mutable_environment();
        seen = &environment_seen;
      } else if (key == "role_name") {
        target = out->mutable_role_name();
        seen = &name_seen;
      } else if (key == "role_type") {
        target = out->mutable_role_type();
        seen = &type_seen;
      }
      if (target == nullptr || *seen) continue;
      *seen = true;
      std::string_view text;
      if (auto error = OptionalString(field.value(), &text)) return error;
      target->assign(text.data(), text.size());
    }
  }
  return simdjson::SUCCESS;
}

// MapCollaborator fills `user` (cleared first, so that one message and its
// buffers serve a whole listing) from one collaborator.
absl::Status MapCollaborator(od::value& element, size_t index, v1::User& user) {
  od::object object;
  if (simdjson::error_code error = element.get_object().get(object)) {
    if (error == simdjson::INCORRECT_TYPE) {
      return BadResponse(absl::StrCat("data[", index, "] is not an object"));
    }
    return NotValidJson(error);
  }
  user.Clear();
  std::optional<int64_t> id;
  uint32_t seen = 0;
  for (auto member : object) {
    od::field field;
    if (auto error = std::move(member).get(field)) return NotValidJson(error);
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return NotValidJson(error);
    const Member which = MemberOf(key);
    if (which == kOther || (seen & which) != 0) continue;
    seen |= which;
    od::value& value = field.value();
    simdjson::error_code error = simdjson::SUCCESS;
    std::string_view text;
    bool set = false;
    switch (which) {
      case kId:
        error = ReadId(value, &id);
        break;
      case kEmail:
      case kName:
      case kGrantType:
      case kExternalId:
      case kTimeZone:
        error = OptionalString(value, &text);
        if (error == simdjson::SUCCESS) {
          std::string* target = which == kEmail        ? user.mutable_email()
                                : which == kName       ? user.mutable_name()
                                : which == kGrantType  ? user.mutable_grant_type()
                                : which == kExternalId ? user.mutable_external_id()
                                                       : user.mutable_time_zone();
          target->assign(text.data(), text.size());
        }
        break;
      case kCreatedAt: {
        google::protobuf::Timestamp created;
        error = OptionalTime(value, &created, &set);
        if (error == simdjson::SUCCESS && set) *user.mutable_create_time() = created;
        break;
      }
      case kLastActivityLog:
        error = ReadLastVisit(value, user);
        break;
      case kRoles:
        error = ReadRoles(value, user);
        break;
      case kOther:
        break;
    }
    if (error != simdjson::SUCCESS) return NotValidJson(error);
  }
  if (!id.has_value()) return BadResponse(absl::StrCat("data[", index, "] has no integer id"));
  user.set_id(*id);
  return absl::OkStatus();
}

// ListedFrom keeps what a listing needs of a mapped collaborator.
void ListedFrom(const v1::User& user, int64_t listing_digest, ListedUser* listed) {
  listed->id = user.id();
  listed->email = user.email();
  // No sync fields are set: this is EncodeCollaboratorFields(user).
  user.SerializeToString(&listed->record);
  listed->listing_digest = listing_digest;
}

// CollaboratorReader maps the elements of "data" one by one.
class CollaboratorReader {
 public:
  CollaboratorReader(simdjson::padded_string_view text, const KnownListing* known)
      : text_(text), known_(known != nullptr && !known->empty() ? known : nullptr) {}

  // Read maps `element` (data[index]) into `listed`.
  absl::Status Read(od::value& element, od::document& document, size_t index,
                    ListedUser* listed) {
    if (known_ == nullptr) {
      // Nothing to compare with (a first sync): map in the same pass, then
      // take the text the element spanned for its digest.
      const char* start = nullptr;
      if (auto error = element.current_location().get(start)) return NotValidJson(error);
      if (absl::Status mapped = MapCollaborator(element, index, user_); !mapped.ok()) {
        return mapped;
      }
      const char* end = nullptr;
      if (auto error = document.current_location().get(end)) return NotValidJson(error);
      ListedFrom(user_, ListingDigest(std::string_view(start, size_t(end - start))), listed);
      return absl::OkStatus();
    }
    // Skip the element, and map it only when its text is new.
    od::object object;
    if (simdjson::error_code error = element.get_object().get(object)) {
      if (error == simdjson::INCORRECT_TYPE) {
        return BadResponse(absl::StrCat("data[", index, "] is not an object"));
      }
      return NotValidJson(error);
    }
    std::string_view raw;
    if (auto error = object.raw_json().get(raw)) return NotValidJson(error);
    const int64_t digest = ListingDigest(raw);
    if (auto it = known_->find(digest); it != known_->end()) {
      listed->id = it->second;
      listed->listing_digest = digest;
      listed->unchanged = true;
      return absl::OkStatus();
    }
    // The element's text lies inside the padded listing, so it is padded too.
    const size_t room = text_.capacity() - size_t(raw.data() - text_.data());
    od::document one;
    if (auto error = element_parser_.iterate(raw.data(), raw.size(), room).get(one)) {
      return NotValidJson(error);
    }
    od::value value;
    if (auto error = one.get_value().get(value)) return NotValidJson(error);
    if (absl::Status mapped = MapCollaborator(value, index, user_); !mapped.ok()) return mapped;
    ListedFrom(user_, digest, listed);
    return absl::OkStatus();
  }

 private:
  simdjson::padded_string_view text_;
  const KnownListing* known_;
  od::parser element_parser_;
  // One message and its buffers serve the whole listing.
  v1::User user_;
};

// ParsePaddedCollaborators reads /api/members from padded text that must
// stay alive until it returns.
absl::StatusOr<CollaboratorListing> ParsePaddedCollaborators(simdjson::padded_string_view json,
                                                             const KnownListing* known) {
  od::parser parser;
  od::document document;
  if (auto error = parser.iterate(json).get(document)) return NotValidJson(error);
  od::object root;
  if (simdjson::error_code error = document.get_object().get(root)) {
    if (error == simdjson::INCORRECT_TYPE) {
      return BadResponse("the collaborator list is not a JSON object");
    }
    return NotValidJson(error);
  }
  CollaboratorListing listing;
  bool have_data = false;
  bool have_total = false;
  CollaboratorReader reader(json, known);
  for (auto member : root) {
    od::field field;
    if (auto error = std::move(member).get(field)) return NotValidJson(error);
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return NotValidJson(error);
    od::value& value = field.value();
    if (key == "data" && !have_data) {
      have_data = true;
      od::array data;
      if (simdjson::error_code error = value.get_array().get(data)) {
        if (error == simdjson::INCORRECT_TYPE) {
          return BadResponse("the collaborator list has no \"data\" array");
        }
        return NotValidJson(error);
      }
      size_t index = 0;
      for (auto entry : data) {
        od::value element;
        if (auto error = std::move(entry).get(element)) return NotValidJson(error);
        if (absl::Status read =
                reader.Read(element, document, index++, &listing.users.emplace_back());
            !read.ok()) {
          return read;
        }
      }
    } else if (key == "total" && !have_total) {
      have_total = true;
      od::json_type type;
      if (auto error = value.type().get(type)) return NotValidJson(error);
      if (type == od::json_type::null) continue;
      int64_t total = 0;
      if (value.get_int64().get(total) != simdjson::SUCCESS) {
        return BadResponse("the collaborator list's \"total\" is not an integer");
      }
      listing.total = total;
    }
  }
  // Past the root object only the end may follow: OUT_OF_BOUNDS says so.
  if (document.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return NotValidJson(simdjson::TRAILING_CONTENT);
  }
  if (!have_data) return BadResponse("the collaborator list has no \"data\" array");
  return listing;
}

}  // namespace

absl::StatusOr<CollaboratorListing> ParseCollaborators(absl::string_view json,
                                                       const KnownListing* known) {
  simdjson::padded_string padded(json.data(), json.size());
  return ParsePaddedCollaborators(padded, known);
}

absl::StatusOr<CollaboratorListing> ParseCollaboratorsInPlace(std::string* json,
                                                              const KnownListing* known) {
  // simdjson reads up to SIMDJSON_PADDING bytes past the end; a response body
  // usually has that much spare capacity already, so no copy of a large
  // listing is made.
  const size_t size = json->size();
  json->reserve(size + simdjson::SIMDJSON_PADDING);
  absl::StatusOr<CollaboratorListing> listing =
      ParsePaddedCollaborators(simdjson::padded_string_view(json->data(), size, json->capacity()),
                               known);
  std::string().swap(*json);
  return listing;
}

}  // namespace workato_connector
