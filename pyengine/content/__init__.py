"""Ansible content installed on the controller: configuration, collections, roles,
modules and plugins, found where Ansible finds them (never copied into pyengine)."""
