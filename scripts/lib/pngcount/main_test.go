package main

import (
	"image"
	"image/color"
	"testing"
)

func TestCountExactColour(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	blue := color.RGBA{R: 0x1f, G: 0x6f, B: 0xeb, A: 255}
	for x := range 4 {
		img.Set(x, 1, blue)
	}
	img.Set(0, 2, color.RGBA{R: 0x1f, G: 0x6f, B: 0xea, A: 255}) // one off
	if n := count(img, color.NRGBA{R: 0x1f, G: 0x6f, B: 0xeb, A: 255}); n != 4 {
		t.Errorf("count = %d, want 4", n)
	}
}
