package main

import (
	"fmt"

	_ "acpkg.test/m001"
	_ "acpkg.test/m002"
	_ "acpkg.test/m003"
	_ "acpkg.test/m004"
	_ "acpkg.test/m005"
	_ "acpkg.test/m006"
	_ "acpkg.test/m007"
	_ "acpkg.test/m008"
	_ "acpkg.test/m009"
	_ "acpkg.test/m010"
)

func main() { fmt.Println("hello") }
