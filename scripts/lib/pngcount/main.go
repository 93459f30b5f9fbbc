// Command pngcount counts the pixels of a PNG that have exactly a given
// colour: page-check.sh uses it to see that the status page's timeline
// is on screen, not only in the DOM.
//
//	go run ./scripts/lib/pngcount FILE.png RRGGBB
package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"strconv"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pngcount:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	if len(args) != 2 || len(args[1]) != 6 {
		return fmt.Errorf("usage: pngcount FILE.png RRGGBB")
	}
	rgb, err := strconv.ParseUint(args[1], 16, 32)
	if err != nil {
		return fmt.Errorf("colour %q: %w", args[1], err)
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	fmt.Println(count(img, color.NRGBA{R: uint8(rgb >> 16), G: uint8(rgb >> 8), B: uint8(rgb), A: 255}))
	return nil
}

// count is the number of opaque pixels of img in colour want.
func count(img image.Image, want color.NRGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA) == want {
				n++
			}
		}
	}
	return n
}
