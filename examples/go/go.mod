module example.com/hello

go 1.26

require (
	acpkg.test/m001 v1.0.0
	acpkg.test/m002 v1.0.0
	acpkg.test/m003 v1.0.0
	acpkg.test/m004 v1.0.0
	acpkg.test/m005 v1.0.0
	acpkg.test/m006 v1.0.0
	acpkg.test/m007 v1.0.0
	acpkg.test/m008 v1.0.0
	acpkg.test/m009 v1.0.0
	acpkg.test/m010 v1.0.0
)
