// The safetensors format (https://huggingface.co/docs/safetensors), as ember::io uses it: an
// 8-byte little-endian header length N, N bytes of JSON mapping each tensor's name to {"dtype",
// "shape", "data_offsets": [begin, end]} (plus "__metadata__", a map of strings), then the raw
// row-major little-endian data, offsets counted from the end of the header.
//
// write() is atomic: a temporary file in the same folder, flushed to disk and renamed over the
// target, so a failed write leaves the previous file as it was. read() treats the file as
// hostile: the header length is checked against the file's real size before anything is
// allocated, and every tensor's dtype, shape and offsets against the data, which the tensors must
// tile exactly (no overlap, no hole); all problems are reported in one ember::Error.
#pragma once

#if !__has_include(<nlohmann/json.hpp>)
#error "<ember/io.hpp> needs nlohmann-json: apt-get install nlohmann-json3-dev"
#endif

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "ember/error.hpp"
#include "ember/tensor.hpp"

namespace ember::io::detail {

static_assert(std::endian::native == std::endian::little, "ember::io writes and reads little-endian data");

// A header longer than this is refused before it is read (the reference implementation's limit).
inline constexpr std::uint64_t max_header_bytes = 100'000'000;

template <class T>
constexpr const char* dtype_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t>,
                "ember::io stores float, double and int64 tensors");
  return std::is_same_v<T, float> ? "F32" : std::is_same_v<T, double> ? "F64" : "I64";
}

inline std::uint64_t dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F64" || dtype == "I64") return 8;
  return 0;
}

inline std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

// The temporary files of saves to `target` are named ".<name>.ember-tmp-<pid>-<random>" in the
// target's folder. A save killed before its rename (kill -9, power loss) leaves one behind; the
// next save of the same target removes those of processes that no longer run (and this process's
// own that no save of it has open). A temporary of a running process is left alone: it may be a
// save of the same file running in parallel, and removing it would make that save fail; the first
// save after that process ends removes it. (A process id reused by an unrelated process keeps a
// stale file until that one ends too; a folder shared between machines or pid namespaces should
// not have two writers of one file.) No other file is ever touched.
inline std::string temp_prefix(const std::filesystem::path& target) {
  return "." + target.filename().string() + ".ember-tmp-";
}

// The temporary files this process has open, which cleaning must not remove.
inline std::mutex& open_temps_mutex() {
  static std::mutex m;
  return m;
}
inline std::set<std::string>& open_temps() {
  static std::set<std::string> names;
  return names;
}

// The process id of temporary file name `rest` (what follows the prefix: "<pid>-<digits>"), or
// -1 when `rest` is not of that form.
inline long temp_pid(std::string_view rest) {
  const auto dash = rest.find('-');
  const auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (dash == std::string_view::npos || !digits(rest.substr(0, dash)) || !digits(rest.substr(dash + 1))) return -1;
  return std::stol(std::string(rest.substr(0, dash)));
}

inline void remove_stale_temps(const std::filesystem::path& folder, const std::filesystem::path& target) {
  const std::string prefix = temp_prefix(target);
  std::error_code ec;
  std::vector<std::filesystem::path> stale;
  for (std::filesystem::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const long pid = temp_pid(std::string_view(name).substr(prefix.size()));
    if (pid <= 0) continue;
    if (pid == ::getpid()) {
      std::lock_guard lock(open_temps_mutex());
      if (open_temps().count(it->path().string())) continue;
    } else if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) {
      continue;  // a running process's
    }
    stale.push_back(it->path());
  }
  for (const auto& p : stale) ::unlink(p.c_str());  // not a folder: unlink never removes one
}

// A temporary file next to the target, removed again unless commit() renamed it into place.
// It is created with open(O_CREAT | O_EXCL, 0666), so a new file gets the permissions the umask
// gives any new file; replacing a file keeps that file's permissions. A read-only target is
// refused, as cp refuses it ("Permission denied"); unlike cp, also for root: a file without any
// write permission was made so on purpose.
class AtomicFile {
 public:
  AtomicFile(const std::filesystem::path& target, const char* who) : target_(target), who_(who) {
    const auto folder = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
    struct stat old {};
    if (::stat(target.c_str(), &old) == 0 && S_ISREG(old.st_mode) &&
        ((old.st_mode & 0222) == 0 || ::access(target.c_str(), W_OK) != 0))
      throw Error(ember::detail::concat(who_, ": cannot replace ", target, ": ", errno_text(EACCES),
                                        " (the file is read-only; it is unchanged)"));
    remove_stale_temps(folder, target);
    std::random_device random;
    int error = 0;
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
      const std::string name = temp_prefix(target) + std::to_string(::getpid()) + "-" + std::to_string(random() % 1000000);
      temp_ = (folder / name).string();
      {  // registered before it exists, so that a save in another thread never sees it unregistered
        std::lock_guard lock(open_temps_mutex());
        open_temps().insert(temp_);
      }
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      error = errno;
      if (fd_ < 0) {
        std::lock_guard lock(open_temps_mutex());
        open_temps().erase(temp_);
      }
      if (fd_ < 0 && error != EEXIST) break;
    }
    if (fd_ < 0) {
      temp_.clear();
      throw Error(ember::detail::concat(who_, ": cannot create a temporary file in ", folder, " for ", target, ": ",
                                        errno_text(error)));
    }
    name_ = temp_;
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());
    std::lock_guard lock(open_temps_mutex());
    open_temps().erase(name_);
  }

  void write(const void* data, std::size_t bytes) {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
      const ssize_t n = ::write(fd_, p, bytes);
      const int error = errno;
      if (n < 0 && error == EINTR) continue;
      if (n <= 0) fail("writing", n < 0 ? error : ENOSPC);
      p += n;
      bytes -= static_cast<std::size_t>(n);
    }
  }

  // Flushes the data to disk, renames the file over the target and flushes the folder.
  void commit() {
    struct stat old {};
    if (::stat(target_.c_str(), &old) == 0) ::fchmod(fd_, old.st_mode & 0777);  // keep the replaced file's
    if (::fsync(fd_) != 0) fail("flushing to disk", errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("closing", errno);
    if (::rename(temp_.c_str(), target_.c_str()) != 0) fail("replacing", errno);
    temp_.clear();
    const auto folder = target_.has_parent_path() ? target_.parent_path() : std::filesystem::path(".");
    if (const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
      ::fsync(dir);  // the rename itself reaches the disk
      ::close(dir);
    }
  }

 private:
  [[noreturn]] void fail(const char* what, int error) const {
    throw Error(ember::detail::concat(who_, ": ", what, " ", target_, " failed: ", errno_text(error),
                                      " (the previous file, if any, is unchanged)"));
  }

  std::filesystem::path target_;
  const char* who_;
  std::string temp_;
  std::string name_;  // temp_, kept after the rename to leave open_temps()
  int fd_ = -1;
};

inline constexpr int max_depth = 3;

// A JSON value for a message, cut to 60 characters.
inline std::string short_text(const nlohmann::json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

inline std::string shape_text(const std::vector<std::int64_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

template <class T>
std::vector<std::int64_t> dims_of(const Tensor<T>& t) {
  std::vector<std::int64_t> dims(static_cast<std::size_t>(t.dim()));
  for (int d = 0; d < t.dim(); ++d) dims[static_cast<std::size_t>(d)] = t.size(d);
  return dims;
}

// One tensor of a file, checked: where its bytes are in the data and what they are.
struct Entry {
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;
};

// Parses and checks a safetensors header against the data buffer's size. Problems are appended
// to `errors`; the entries that passed are returned.
inline std::map<std::string, Entry> parse_header(const std::string& text, std::uint64_t buffer_bytes,
                                                 std::map<std::string, std::string>& metadata,
                                                 std::vector<std::string>& errors) {
  // A safetensors header nests three deep (header, tensor, shape); deeper nesting is refused
  // while parsing, since printing or destroying a deep value recurses once per level.
  // Duplicate keys are refused too (nlohmann keeps the last; the format forbids them).
  struct TooDeep {};
  struct Duplicate {
    std::string key;
  };
  if (text.empty() || text[0] != '{') {
    errors.push_back("the header does not start with '{' (the format requires it)");
    return {};
  }
  nlohmann::json header;
  try {
    std::vector<std::set<std::string>> keys;  // of each object being parsed, innermost last
    using Event = nlohmann::json::parse_event_t;
    header = nlohmann::json::parse(text, [&keys](int depth, Event event, nlohmann::json& parsed) {
      if (depth > max_depth) throw TooDeep{};
      if (event == Event::object_start) keys.emplace_back();
      else if (event == Event::object_end) keys.pop_back();
      else if (event == Event::key && !keys.back().insert(parsed.get<std::string>()).second)
        throw Duplicate{parsed.get<std::string>()};
      return true;
    });
  } catch (const TooDeep&) {
    errors.push_back("the header nests JSON deeper than " + std::to_string(max_depth) + " levels");
    return {};
  } catch (const Duplicate& d) {
    errors.push_back("the header has the key \"" + d.key.substr(0, 60) + "\" twice in one object (the format forbids it)");
    return {};
  } catch (const nlohmann::json::exception& e) {  // syntax, and numbers out of range
    errors.push_back(std::string("the header is not valid JSON: ") + e.what());
    return {};
  }
  if (!header.is_object()) {
    errors.push_back("the header is not a JSON object");
    return {};
  }
  std::map<std::string, Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {  // the format allows only strings here
      if (!value.is_object()) {
        errors.push_back("__metadata__ is not a JSON object");
        continue;
      }
      for (const auto& [key, v] : value.items()) {
        if (v.is_string()) metadata[key] = v.get<std::string>();
        else errors.push_back("__metadata__ \"" + key + "\" is not a string");
      }
      continue;
    }
    const std::string where = "tensor \"" + name + "\": ";
    if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") || !value.contains("data_offsets") ||
        !value["dtype"].is_string() || !value["shape"].is_array() || !value["data_offsets"].is_array() ||
        value["data_offsets"].size() != 2) {
      errors.push_back(where + "expected {\"dtype\": string, \"shape\": [...], \"data_offsets\": [begin, end]}");
      continue;
    }
    Entry e;
    e.dtype = value["dtype"].get<std::string>();
    const std::uint64_t item = dtype_size(e.dtype);
    if (item == 0) {
      errors.push_back(where + "dtype " + e.dtype + " is not supported (ember reads F32, F64 and I64)");
      continue;
    }
    bool ok = true;
    std::uint64_t numel = 1;
    for (const auto& d : value["shape"]) {
      if (!d.is_number_unsigned() || d.get<std::uint64_t>() > (std::uint64_t(1) << 40)) {
        ok = false;
        break;
      }
      const std::uint64_t size = d.get<std::uint64_t>();
      e.shape.push_back(static_cast<std::int64_t>(size));
      // Saturates past the buffer (too big either way) instead of overflowing.
      numel = size != 0 && numel > buffer_bytes / size ? buffer_bytes + 1 : numel * size;
    }
    if (!ok) {
      errors.push_back(where + "shape " + short_text(value["shape"]) + " is not a list of sizes (each up to 2^40)");
      continue;
    }
    const auto& off = value["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      errors.push_back(where + "data_offsets " + short_text(off) + " are not two byte offsets");
      continue;
    }
    e.begin = off[0].get<std::uint64_t>();
    e.end = off[1].get<std::uint64_t>();
    if (e.begin > e.end || e.end > buffer_bytes) {
      errors.push_back(where + "data_offsets " + short_text(off) + " lie outside the " + std::to_string(buffer_bytes) +
                       " bytes of data");
      continue;
    }
    if (e.end - e.begin != numel * item) {
      errors.push_back(where + "data_offsets " + short_text(off) + " hold " + std::to_string(e.end - e.begin) +
                       " bytes, but " + e.dtype + " of shape " + shape_text(e.shape) + " takes " +
                       (numel > buffer_bytes ? "more than all of them" : std::to_string(numel * item)));
      continue;
    }
    entries.emplace(name, std::move(e));
  }
  // The tensors tile the data exactly, as the format requires: no overlap, no hole. (Checked
  // only when every tensor passed: a rejected one would leave a hole of its own.)
  if (!errors.empty()) return entries;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;
  for (const auto& [name, e] : entries) spans.emplace_back(e.begin, e.end);
  std::sort(spans.begin(), spans.end());
  std::uint64_t at = 0;
  for (const auto& [b, e] : spans) {
    if (b != at) {
      errors.push_back(b < at ? "tensors overlap at byte " + std::to_string(b) + " of the data"
                              : "no tensor covers bytes " + std::to_string(at) + "-" + std::to_string(b) +
                                    " of the data");
      break;
    }
    at = e;
  }
  if (errors.empty() && at != buffer_bytes)
    errors.push_back("the data has " + std::to_string(buffer_bytes - at) + " bytes after the last tensor");
  return entries;
}

inline std::string join_errors(const std::string& who, const std::filesystem::path& path,
                               const std::vector<std::string>& errors) {
  std::string s = ember::detail::concat(who, ": ", path, ": ");
  if (errors.size() == 1) return s + errors[0];
  s += std::to_string(errors.size()) + " problems:";
  for (const auto& e : errors) s += "\n  " + e;
  return s;
}

// A tensor to write: its bytes are read from `data` during write().
struct TensorView {
  std::string name;
  const char* dtype;
  std::vector<std::int64_t> shape;
  const void* data;
  std::uint64_t bytes;
};

template <class T>
TensorView view_of(const std::string& name, const Tensor<T>& t) {
  return {name, dtype_of<T>(), dims_of(t), t.data(), static_cast<std::uint64_t>(t.numel()) * sizeof(T)};
}

inline void write(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                  const std::map<std::string, std::string>& metadata, const char* who) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    ember::detail::check(t.name != "__metadata__" && !header.contains(t.name), who, ": two tensors are named \"",
                         t.name, "\"");
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes}}};
    offset += t.bytes;
  }
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');  // the data starts 8-byte aligned
  const std::uint64_t length = text.size();

  AtomicFile file(path, who);
  file.write(&length, sizeof length);
  file.write(text.data(), text.size());
  for (const auto& t : tensors) file.write(t.data, static_cast<std::size_t>(t.bytes));
  file.commit();
}

// A file read and checked: its tensors, its metadata and its data.
struct File {
  std::map<std::string, Entry> entries;
  std::map<std::string, std::string> metadata;
  std::vector<char> data;

  // Entry `name`'s values converted to T (F32 and F64 to floating point, I64 to integers).
  template <class T>
  void copy_to(const std::string& name, T* out) const {
    const Entry& e = entries.at(name);
    const char* src = data.data() + e.begin;
    const std::uint64_t bytes = e.end - e.begin;
    if (e.dtype == "F32") convert<float>(src, bytes, out);
    else if (e.dtype == "F64") convert<double>(src, bytes, out);
    else convert<std::int64_t>(src, bytes, out);
  }

 private:
  template <class U, class T>
  static void convert(const char* src, std::uint64_t bytes, T* out) {
    for (std::uint64_t i = 0; i < bytes / sizeof(U); ++i) {
      U v;
      std::memcpy(&v, src + i * sizeof(U), sizeof v);
      out[i] = static_cast<T>(v);
    }
  }
};

inline File read(const std::filesystem::path& path, const char* who) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  ember::detail::check(!ec, who, ": cannot read ", path, ": ", ec.message());
  std::ifstream in(path, std::ios::binary);
  ember::detail::check(static_cast<bool>(in), who, ": cannot open ", path);
  ember::detail::check(size >= 8, who, ": ", path, ": ", size,
                       " bytes is too short for a safetensors file (it starts with an 8-byte header length)");
  std::uint64_t length = 0;
  in.read(reinterpret_cast<char*>(&length), sizeof length);
  ember::detail::check(length <= max_header_bytes, who, ": ", path, ": the header length says ", length,
                       " bytes, more than the format's limit of 100,000,000; not a safetensors file");
  ember::detail::check(length <= size - 8, who, ": ", path, ": the header length says ",
                       length, " bytes, but the file has ", size - 8,
                       " after it; not a safetensors file, or a truncated one");
  std::string text(length, '\0');
  File file;
  file.data.resize(size - 8 - length);
  in.read(text.data(), static_cast<std::streamsize>(length));
  in.read(file.data.data(), static_cast<std::streamsize>(file.data.size()));
  ember::detail::check(static_cast<bool>(in), who, ": reading ", path, " failed");
  std::vector<std::string> errors;
  file.entries = parse_header(text, file.data.size(), file.metadata, errors);
  if (!errors.empty()) throw Error(join_errors(who, path, errors));
  return file;
}

}  // namespace ember::io::detail
