# gpuplex: the two commands are `make demo` and `make test` (see README.md).
# Each installs missing Debian packages, configures and builds into $(BUILD).
BUILD    ?= build
SANITIZE ?= OFF
TYPE     ?= RelWithDebInfo
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CC       ?= cc

.PHONY: all deps build test demo asan clean format format-check tidy cppcheck

all: build

deps:
	@scripts/install-deps all

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(TYPE) -DGPX_SANITIZE=$(SANITIZE) \
	  -DCMAKE_C_COMPILER=$(CC) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

demo: build
	@BUILD=$(BUILD) scripts/demo

# The same tests built with AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	$(MAKE) test BUILD=build-asan SANITIZE=ON TYPE=Debug

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

tidy: build
	clang-tidy -p $(BUILD) --quiet $$(git ls-files 'src/*.c' 'sim/*.c' | grep -v '^src/interpose/dlsym')

cppcheck:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr -I include -I src -I sim $$(git ls-files 'src/*.c' 'sim/*.c')

clean:
	rm -rf build build-asan
