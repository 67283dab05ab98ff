"""The shipped configuration files; installed as the package data of `smsc.shipped`."""
