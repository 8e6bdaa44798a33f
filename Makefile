# gpuplex: the two commands are `make demo` and `make test` (see README.md);
# `make install` puts it on this system. Each installs the missing Debian
# packages it needs (scripts/install-deps: `make build` the build group alone,
# `make test` the test tools too), configures and builds into $(BUILD).
# `make help` lists the targets: each has a `## what it does` comment.
BUILD    ?= build
SANITIZE ?= OFF
TYPE     ?= RelWithDebInfo
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=

.PHONY: all help deps deps-test build test demo asan install uninstall deb clean format \
	format-check tidy cppcheck

all: build ## the same as build

help: ## list the targets (variables: BUILD, TYPE, SANITIZE, CC, JOBS, PREFIX, DESTDIR)
	@sed -n 's/^\([a-z-]*\):.*## \(.*\)$$/\1\t\2/p' $(firstword $(MAKEFILE_LIST)) | \
	  awk -F '\t' '{ printf "  make %-13s %s\n", $$1, $$2 }'

deps: ## install the Debian packages the build needs (as root; else print the apt-get line)
	@scripts/install-deps build

deps-test: deps ## install those the tests need too (prometheus, wrk, cppcheck, clang-format, ...)
	@scripts/install-deps test

# PREFIX is configured in, not just given at install time: GNUInstallDirs picks
# LIBDIR from it (lib/<multiarch> for /usr on Debian) and the binaries find
# LIBDIR/gpuplex relative to themselves.
build: deps ## configure and build into BUILD (default build/: programs in build/bin)
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(TYPE) -DGPX_SANITIZE=$(SANITIZE) \
	  -DCMAKE_C_COMPILER=$(CC) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: deps-test build ## build and run every test suite (CTest)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

demo: build ## build and tour gpuplex on a simulated 2xH100 node
	@BUILD=$(BUILD) scripts/demo

# The same tests built with AddressSanitizer + UndefinedBehaviorSanitizer.
asan: ## the tests built with AddressSanitizer + UBSan (in build-asan)
	$(MAKE) test BUILD=build-asan SANITIZE=ON TYPE=Debug

# cmake --install records what it wrote in $(BUILD)/install_manifest.txt (paths
# without DESTDIR), which uninstall reads.
install: build ## build, install into DESTDIR+PREFIX (default /usr/local; operator-guide.md)
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX)

uninstall: ## remove what install installed (BUILD/install_manifest.txt; same DESTDIR)
	DESTDIR="$(DESTDIR)" scripts/uninstall $(BUILD)/install_manifest.txt

# Its own build tree, configured for /usr whatever PREFIX says: a package's paths are
# Debian's (LIBDIR lib/<multiarch>). cpack installs the components gpuplex and sim
# into a staging tree and runs dpkg-shlibdeps over it (cmake/packaging.cmake).
deb: ## build the Debian packages gpuplex and gpuplex-sim into build-deb/ (CPack DEB)
	@scripts/install-deps deb
	@cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=$(TYPE) -DGPX_SANITIZE=OFF \
	  -DCMAKE_C_COMPILER=$(CC) -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
	@cmake --build build-deb -j $(JOBS)
	cd build-deb && cpack -G DEB
	@ls -1 build-deb/*.deb

format: ## reformat the C sources with clang-format
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check: ## check the C sources' format (clang-format)
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

tidy: build ## clang-tidy over src/ and sim/ (minutes)
	clang-tidy -p $(BUILD) --quiet $$(git ls-files 'src/*.c' 'sim/*.c' | grep -v '^src/interpose/dlsym')

cppcheck: ## cppcheck over src/ and sim/
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr -I include -I src -I sim $$(git ls-files 'src/*.c' 'sim/*.c')

clean: ## remove build, build-asan and build-deb
	rm -rf build build-asan build-deb
