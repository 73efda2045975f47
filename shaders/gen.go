package shaders

//go:generate sh gen.sh
