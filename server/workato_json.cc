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

// TimeField parses an RFC 3339 member; nullopt when missing or malformed.
std::optional<google::protobuf::Timestamp> TimeField(simdjson::dom::object object,
                                                     const char* key) {
  return ParseRfc3339(StringField(object, key));
}

// MapCollaborator fills `user` (cleared first, so that one message and its
// buffers serve a whole listing) from one collaborator.
absl::Status MapCollaborator(simdjson::dom::element element, size_t index, v1::User& user) {
  simdjson::dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) {
    return BadResponse(absl::StrCat("data[", index, "] is not an object"));
  }
  std::optional<int64_t> id = IdField(object, "id");
  if (!id.has_value()) return BadResponse(absl::StrCat("data[", index, "] has no integer id"));
  user.Clear();
  user.set_id(*id);
  user.set_email(StringField(object, "email"));
  user.set_name(StringField(object, "name"));
  user.set_grant_type(StringField(object, "grant_type"));
  user.set_external_id(StringField(object, "external_id"));
  user.set_time_zone(StringField(object, "time_zone"));
  if (auto created = TimeField(object, "created_at")) *user.mutable_create_time() = *created;
  if (std::optional<simdjson::dom::element> log = Field(object, "last_activity_log")) {
    simdjson::dom::object log_object;
    if (log->get_object().get(log_object) == simdjson::SUCCESS) {
      if (auto visited = TimeField(log_object, "created_at")) {
        *user.mutable_last_visit_time() = *visited;
      }
    }
  }
  if (std::optional<simdjson::dom::element> roles = Field(object, "roles")) {
    simdjson::dom::array array;
    if (roles->get_array().get(array) == simdjson::SUCCESS) {
      for (simdjson::dom::element role_element : array) {
        simdjson::dom::object role;
        if (role_element.get_object().get(role) != simdjson::SUCCESS) continue;
        v1::EnvironmentRole* out = user.add_roles();
        out->set_environment(StringField(role, "environment_type"));
        out->set_role_name(StringField(role, "role_name"));
        out->set_role_type(StringField(role, "role_type"));
      }
    }
  }
  return absl::OkStatus();
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

// ParseDocument parses a padded JSON text with `parser`.
absl::StatusOr<simdjson::dom::element> ParseDocument(simdjson::dom::parser& parser,
                                                     simdjson::padded_string_view json) {
  simdjson::dom::element document;
  if (auto error = parser.parse(json).get(document); error != simdjson::SUCCESS) {
    return BadResponse(absl::StrCat("the collaborator list is not valid JSON (",
                                    simdjson::error_message(error), ")"));
  }
  return document;
}

// MapCollaborators maps a parsed /api/members document.
absl::StatusOr<CollaboratorListing> MapCollaborators(simdjson::dom::element document) {
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    return BadResponse("the collaborator list is not a JSON object");
  }
  simdjson::dom::array data;
  if (object["data"].get_array().get(data) != simdjson::SUCCESS) {
    return BadResponse("the collaborator list has no \"data\" array");
  }
  CollaboratorListing listing;
  if (std::optional<simdjson::dom::element> total = Field(object, "total")) {
    int64_t value = 0;
    if (total->get_int64().get(value) != simdjson::SUCCESS) {
      return BadResponse("the collaborator list's \"total\" is not an integer");
    }
    listing.total = value;
  }
  listing.users.reserve(data.size());
  size_t index = 0;
  v1::User user;
  for (simdjson::dom::element element : data) {
    if (absl::Status mapped = MapCollaborator(element, index++, user); !mapped.ok()) return mapped;
    ListedUser& listed = listing.users.emplace_back();
    listed.id = user.id();
    listed.email = user.email();
    // No sync fields are set: this is EncodeCollaboratorFields(user).
    user.SerializeToString(&listed.record);
  }
  return listing;
}

}  // namespace

absl::StatusOr<CollaboratorListing> ParseCollaborators(absl::string_view json) {
  simdjson::padded_string padded(json.data(), json.size());
  simdjson::dom::parser parser;
  absl::StatusOr<simdjson::dom::element> document = ParseDocument(parser, padded);
  if (!document.ok()) return document.status();
  return MapCollaborators(*document);
}

absl::StatusOr<CollaboratorListing> ParseCollaboratorsInPlace(std::string* json) {
  // simdjson reads up to SIMDJSON_PADDING bytes past the end; a response body
  // usually has that much spare capacity already, so no copy of a large
  // listing is made.
  const size_t size = json->size();
  json->reserve(size + simdjson::SIMDJSON_PADDING);
  simdjson::dom::parser parser;
  absl::StatusOr<simdjson::dom::element> document =
      ParseDocument(parser, simdjson::padded_string_view(json->data(), size, json->capacity()));
  // The document holds its own copies of every string: the text can go
  // before the users are built, which lowers a large sync's peak memory.
  std::string().swap(*json);
  if (!document.ok()) return document.status();
  return MapCollaborators(*document);
}

}  // namespace workato_connector
