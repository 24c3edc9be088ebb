#pragma once
// Error types. InputError carries the option, the value and the rule broken, and maps to exit
// code 2 in the CLI.
#include <stdexcept>
#include <string>

namespace dmft {

class InputError : public std::runtime_error {
 public:
  InputError(std::string option, std::string value, std::string rule)
      : std::runtime_error(option + " = " + value + ": " + rule),
        option_(std::move(option)), value_(std::move(value)), rule_(std::move(rule)) {}
  const std::string& option() const { return option_; }
  const std::string& value() const { return value_; }
  const std::string& rule() const { return rule_; }

 private:
  std::string option_, value_, rule_;
};

}  // namespace dmft
