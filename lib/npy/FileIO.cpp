//===- FileIO.cpp - file handling shared by the array formats -------------===//

#include "lib/npy/FileIO.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

using namespace muonssm::npy::detail;

bool muonssm::npy::detail::openForReading(const std::string &path,
                                          FilePtr &file, uint64_t &size,
                                          std::string &what) {
  errno = 0;
  file.reset(std::fopen(path.c_str(), "rb"));
  if (!file) {
    what = std::string("cannot open: ") + std::strerror(errno);
    return false;
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    what = "cannot read: not a regular file";
    return false;
  }
  size = std::filesystem::file_size(path, ec);
  if (ec) {
    what = "cannot read: " + ec.message();
    return false;
  }
  return true;
}

std::string muonssm::npy::detail::readFailure(std::FILE *file) {
  return std::string("cannot read: ") +
         (std::ferror(file) ? std::strerror(errno)
                            : "the file changed while being read");
}

bool muonssm::npy::detail::writeAtomically(
    const std::string &path,
    const std::vector<std::pair<const void *, size_t>> &pieces,
    std::string &what) {
  const std::string tmpPath = path + ".tmp";
  errno = 0;
  FilePtr file(std::fopen(tmpPath.c_str(), "wb"));
  if (!file) {
    what = "cannot create " + tmpPath + ": " + std::strerror(errno);
    return false;
  }
  bool ok = true;
  for (size_t i = 0; ok && i < pieces.size(); ++i)
    // An empty array's data() may be null, which fwrite must not see.
    ok = pieces[i].second == 0 ||
         std::fwrite(pieces[i].first, 1, pieces[i].second, file.get()) ==
             pieces[i].second;
  int savedErrno = errno;
  // fclose flushes: a full disk may only show up here.
  if (std::fclose(file.release()) != 0 && ok) {
    ok = false;
    savedErrno = errno;
  }
  if (!ok) {
    std::remove(tmpPath.c_str());
    what = "cannot write " + tmpPath + ": " + std::strerror(savedErrno);
    return false;
  }
  if (std::rename(tmpPath.c_str(), path.c_str()) != 0) {
    savedErrno = errno;
    std::remove(tmpPath.c_str());
    what = "cannot rename " + tmpPath + " to " + path + ": " +
           std::strerror(savedErrno);
    return false;
  }
  return true;
}
